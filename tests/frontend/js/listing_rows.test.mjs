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

describe("a row's end, from auction.extended, bid.placed or a fetched state", () => {
  const end = (minute) => `2026-11-30T10:0${minute}:00Z`;

  it("takes a numbered end over the page's own", () => {
    assert.deepEqual(rowEndUpdate(-1, { seq: 3, ends_at: end(2) }), { seq: 3, endsAt: end(2) });
  });

  it("never takes an older one back, and a repeat changes nothing", () => {
    assert.equal(rowEndUpdate(4, { seq: 3, ends_at: end(1) }), null);
    assert.deepEqual(rowEndUpdate(4, { seq: 4, ends_at: end(2) }), { seq: 4, endsAt: end(2) });
  });

  it("takes the seller's earlier end before the first bid (the same number, read later)", () => {
    assert.deepEqual(rowEndUpdate(0, { seq: 0, ends_at: end(1) }), { seq: 0, endsAt: end(1) });
  });

  it("without a number or an end changes nothing", () => {
    assert.equal(rowEndUpdate(-1, { ends_at: end(2) }), null);
    assert.equal(rowEndUpdate(-1, { seq: 2, ends_at: "not a time" }), null);
    assert.equal(rowEndUpdate(-1, null), null);
  });

  it("converges to the newest end under any order, with duplicates", () => {
    // seq 0: the seller's end before any bid; 1-3: bids, the last two extending it.
    const events = [[0, 1], [1, 1], [2, 3], [3, 5]].map(([seq, minute]) => (
      { seq, ends_at: end(minute) }));
    for (const order of [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 3, 1], [1, 3, 0, 2, 1]]) {
      let shown = { seq: -1, endsAt: end(9) };
      for (const index of order) shown = rowEndUpdate(shown.seq, events[index]) || shown;
      assert.deepEqual(shown, { seq: 3, endsAt: end(5) });
    }
  });
});
