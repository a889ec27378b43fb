// A seller's live table of listings (frontend/static/js/listing_rows.js): bid events arrive
// late, twice and out of order; a row keeps the newest price and count.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { rowBidUpdate, rowEndUpdate } from "../../../frontend/static/js/listing_rows.js";

describe("a bid.placed event on a seller's row", () => {
  it("with more bids than shown updates the price and the count", () => {
    assert.deepEqual(rowBidUpdate(2, { bid_count: 3, current_price: 1550 }),
                     { price: 1550, bids: 3 });
  });

  it("that is a repeat or older changes nothing", () => {
    assert.equal(rowBidUpdate(3, { bid_count: 3, current_price: 1550 }), null);
    assert.equal(rowBidUpdate(5, { bid_count: 3, current_price: 1550 }), null);
  });

  it("without figures changes nothing", () => {
    assert.equal(rowBidUpdate(0, {}), null);
    assert.equal(rowBidUpdate(0, null), null);
  });

  it("converges to the newest state under any order, with duplicates", () => {
    const events = [1, 2, 3, 4].map((n) => ({ bid_count: n, current_price: 1000 + n * 100 }));
    for (const order of [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 3, 1], [1, 3, 0, 2, 1]]) {
      let shown = { price: 1000, bids: 0 };
      for (const index of order) shown = rowBidUpdate(shown.bids, events[index]) || shown;
      assert.deepEqual(shown, { price: 1400, bids: 4 });
    }
  });
});

describe("a row's end, from auction.extended or a fetched state", () => {
  it("moves later", () => {
    assert.equal(rowEndUpdate("2026-11-30T10:00:00Z", "2026-11-30T10:02:00Z"),
                 "2026-11-30T10:02:00Z");
  });

  it("never winds back or repeats (an older answer, a duplicate)", () => {
    assert.equal(rowEndUpdate("2026-11-30T10:02:00Z", "2026-11-30T10:00:00Z"), null);
    assert.equal(rowEndUpdate("2026-11-30T10:02:00Z", "2026-11-30T10:02:00Z"), null);
  });

  it("without an end changes nothing, and fills a row that showed none", () => {
    assert.equal(rowEndUpdate("2026-11-30T10:00:00Z", undefined), null);
    assert.equal(rowEndUpdate("2026-11-30T10:00:00Z", "not a time"), null);
    assert.equal(rowEndUpdate(null, "2026-11-30T10:02:00Z"), "2026-11-30T10:02:00Z");
  });
});
