"""Money as the platform writes it: an integer number of minor units with an ISO 4217 currency
code, shown in major units with the currency's own number of decimals.

One owner for every Python part that shows or reads an amount (the pages and their forms,
the emails); the browser's script formats with the exponent the page gives it
(:func:`currency_exponent`, via ``frontend/presenters.py``). Amounts never go through a float:
typed text becomes a :class:`~decimal.Decimal`, then an integer.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

#: ISO 4217 minor-unit exponents that are not 2 (JPY has no minor unit, a Kuwaiti dinar has
#: 1000 fils); every currency not listed has 2.
_EXPONENTS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
                     "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}


def currency_exponent(currency: str | None) -> int:
    """How many decimal digits the currency's minor unit has (2 for EUR: 1 EUR = 100 cents;
    0 for JPY; 3 for KWD)."""
    return _EXPONENTS.get((currency or "").upper(), 2)


def major_units(minor: int, currency: str | None) -> str:
    """``1250, "EUR"`` -> ``"12.50"``: the amount as a plain decimal, as a form field shows it
    (``1500, "JPY"`` -> ``"1500"``; ``1500, "KWD"`` -> ``"1.500"``)."""
    exponent = currency_exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(int(minor)), 10**exponent)
    if exponent == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{exponent}d}"


def format_money(minor: int | None, currency: str | None) -> str:
    """``1250, "EUR"`` -> ``"EUR 12.50"``; thousands are grouped (``"USD 1,234,567.00"``,
    ``"JPY 1,500"``, ``"KWD 1.500"``); ``None`` (no amount) -> ``"—"``."""
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
