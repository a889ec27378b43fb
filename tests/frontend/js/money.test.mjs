// Money as the pages say it (frontend/static/js/money.js); test_js_pinned.py checks it
// against the server's frontend/money.py too.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { formatMoney, majorUnits } from "../../../frontend/static/js/money.js";

describe("formatMoney", () => {
  it("says minor units with the currency and its decimals", () => {
    assert.equal(formatMoney(1250, "EUR", 2), "EUR 12.50");
    assert.equal(formatMoney(5, "EUR", 2), "EUR 0.05");
    assert.equal(formatMoney(0, "USD", 2), "USD 0.00");
  });

  it("groups thousands", () => {
    assert.equal(formatMoney(123456700, "USD", 2), "USD 1,234,567.00");
    assert.equal(formatMoney(100000, "EUR", 2), "EUR 1,000.00");
  });

  it("has no decimal point for a currency without minor units", () => {
    assert.equal(formatMoney(1500, "JPY", 0), "JPY 1,500");
  });

  it("puts the sign after the currency", () => {
    assert.equal(formatMoney(-1250, "EUR", 2), "EUR -12.50");
  });

  it("says a missing amount as a dash", () => {
    assert.equal(formatMoney(null, "EUR", 2), "—");
    assert.equal(formatMoney(undefined, "EUR", 2), "—");
  });
});

describe("majorUnits", () => {
  it("is the amount as the bid field takes it: no currency, no grouping", () => {
    assert.equal(majorUnits(123456, 2), "1234.56");
    assert.equal(majorUnits(7, 2), "0.07");
    assert.equal(majorUnits(1500, 0), "1500");
  });
});
