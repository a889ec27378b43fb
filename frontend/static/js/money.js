/* Money as the pages say it: an integer number of minor units with a currency code, never a
 * float. The server's owner of this format is auction_common/money.py (format_money, major_units);
 * tests/frontend/test_js_pinned.py runs both over the same amounts. No DOM here. */

/** 1250, "EUR", 2 -> "EUR 12.50"; thousands grouped ("USD 1,234,567.00"); null -> "—". The
 *  exponent comes from the page (the server's currency_exponent), never guessed here. */
export function formatMoney(minor, currency, exponent) {
  if (minor === null || minor === undefined) return "—";
  const negative = minor < 0;
  let digits = String(Math.abs(Math.trunc(minor)));
  while (digits.length <= exponent) digits = "0" + digits;
  let whole = exponent ? digits.slice(0, -exponent) : digits;
  const fraction = exponent ? digits.slice(-exponent) : "";
  whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const amount = (negative ? "-" : "") + whole + (fraction ? "." + fraction : "");
  return currency ? String(currency).toUpperCase() + " " + amount : amount;
}

/** 1250, 2 -> "12.50": the amount as the bid field takes it (no grouping, no currency). */
export function majorUnits(minor, exponent) {
  return formatMoney(minor, "", exponent).replace(/,/g, "");
}
