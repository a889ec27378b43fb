"""Money as an integer number of minor units with a currency code: formatting and parsing.

Amounts never go through a float: the form's text becomes a :class:`~decimal.Decimal`, then an
integer number of cents (or pence...).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

#: The currencies a seller can choose, in the order the form lists them.
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "CAD", "AUD")

#: Digits after the decimal point (ISO 4217 minor units); 2 for any currency not listed.
_EXPONENTS = {"EUR": 2, "USD": 2, "GBP": 2, "JPY": 0, "KRW": 0, "CHF": 2}


def currency_exponent(currency: str) -> int:
    """How many decimal digits the currency's minor unit has (2 for EUR: 1 EUR = 100 cents)."""
    return _EXPONENTS.get(currency.upper(), 2)


def major_units(minor: int, currency: str) -> str:
    """``1250, "EUR"`` -> ``"12.50"``: the amount as a plain decimal, as a form field shows it."""
    exponent = currency_exponent(currency or "")
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(int(minor)), 10**exponent)
    if exponent == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{exponent}d}"


def format_money(minor: int | None, currency: str) -> str:
    """``1250, "EUR"`` -> ``"EUR 12.50"``; thousands are grouped (``"USD 1,234,567.00"``)."""
    if minor is None:
        return "—"
    plain = major_units(minor, currency)
    sign = "-" if plain.startswith("-") else ""
    whole, _, fraction = plain.lstrip("-").partition(".")
    grouped = f"{int(whole):,}"
    return f"{(currency or '').upper()} {sign}{grouped}{'.' + fraction if fraction else ''}".strip()


def parse_minor_units(text: str, currency: str) -> int:
    """``"12.5", "EUR"`` -> ``1250``: an amount typed in major units, as minor units.

    Accepts a comma as the decimal separator (``"12,50"``). Raises :class:`ValueError` with a
    message fit for the user when the text is not a positive amount of that currency.
    """
    cleaned = (text or "").strip().replace(" ", "")
    if "," in cleaned and "." not in cleaned and cleaned.count(",") == 1:
        cleaned = cleaned.replace(",", ".")
    if not cleaned:
        raise ValueError("Enter an amount.")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError("Enter an amount such as 12.50.") from None
    if not amount.is_finite():
        raise ValueError("Enter an amount such as 12.50.")
    exponent = currency_exponent(currency)
    minor = amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise ValueError(f"Use at most {exponent} decimal places for {currency.upper()}.")
    if minor <= 0:
        raise ValueError("Enter an amount greater than zero.")
    return int(minor)
