// Sequence numbers and gaps (frontend/static/js/sequence.js): events arrive late, twice and
// out of order; the page applies only what is newer and catches up after a gap.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  mergeHistoryPage, placeBidEvent, placeEndedEvent, stateIsStale, watchersUpdate
} from "../../../frontend/static/js/sequence.js";

describe("a bid.placed event", () => {
  it("that is the next number applies without a gap", () => {
    assert.deepEqual(placeBidEvent(4, 5), { apply: true, gap: false, numbered: true, seen: 5 });
  });

  it("that skips numbers applies and reports the gap", () => {
    assert.deepEqual(placeBidEvent(4, 7), { apply: true, gap: true, numbered: true, seen: 7 });
  });

  it("that is a duplicate or older is ignored", () => {
    assert.equal(placeBidEvent(5, 5).apply, false);
    assert.equal(placeBidEvent(5, 3).apply, false);
    assert.equal(placeBidEvent(5, 3).seen, 5);
  });

  it("without a number applies and leaves the number as it was", () => {
    assert.deepEqual(placeBidEvent(5, undefined),
                     { apply: true, gap: false, numbered: false, seen: 5 });
  });

  it("converges to the highest number under any order, with duplicates", () => {
    const arrivals = [3, 1, 2, 3, 5, 4, 5, 1];
    let seen = 0;
    const applied = [];
    for (const seq of arrivals) {
      const placed = placeBidEvent(seen, seq);
      if (placed.apply) applied.push(seq);
      seen = placed.seen;
    }
    assert.equal(seen, 5);
    assert.deepEqual(applied, [3, 5]);
  });
});

describe("an auction.ended event", () => {
  it("keeps the highest number and says whether a bid before it was missed", () => {
    assert.deepEqual(placeEndedEvent(4, 5), { missed: false, seen: 5 });
    assert.deepEqual(placeEndedEvent(4, 7), { missed: true, seen: 7 });
    assert.deepEqual(placeEndedEvent(9, 7), { missed: false, seen: 9 });
    assert.deepEqual(placeEndedEvent(9, undefined), { missed: false, seen: 9 });
  });
});

describe("a fetched live state", () => {
  it("older than the page is stale", () => {
    assert.equal(stateIsStale({ seq: 3, status: "live" }, 5), true);
    assert.equal(stateIsStale({ seq: 5, status: "live" }, 5), false);
    assert.equal(stateIsStale({ status: "live" }, 5), false);
  });

  it("that is the final state of an ended auction is never stale", () => {
    assert.equal(stateIsStale({ seq: 3, status: "ended", outcome: "sold" }, 5), false);
    assert.equal(stateIsStale({ seq: 3, status: "ended", outcome: null }, 5), true);
  });
});

describe("a page of the bid history", () => {
  const line = (seq) => ({ seq, bid_id: "b" + seq, current_price: seq * 100 });

  it("adds only the lines after the panel's number, oldest first", () => {
    const merged = mergeHistoryPage(2, { items: [line(1), line(2), line(3), line(4)], seq: 4 });
    assert.deepEqual(merged.lines.map((item) => item.seq), [3, 4]);
    assert.equal(merged.historySeq, 4);
    assert.equal(merged.more, false);
  });

  it("moves the panel's number to the answer's seq, read before its lines", () => {
    const merged = mergeHistoryPage(4, { items: [], seq: 6 });
    assert.deepEqual(merged.lines, []);
    assert.equal(merged.historySeq, 6);
  });

  it("with a next page continues from its cursor", () => {
    const merged = mergeHistoryPage(0, { items: [line(1), line(2)], next_cursor: "2", seq: 9 });
    assert.equal(merged.historySeq, 2);
    assert.equal(merged.more, true);
  });

  it("ignores lines without a number", () => {
    const merged = mergeHistoryPage(0, { items: [{ seq: "3" }, line(1)], seq: 1 });
    assert.deepEqual(merged.lines.map((item) => item.seq), [1]);
  });
});

describe("auction.watchers", () => {
  const event = (seq, count, auction = "a1") =>
    ({ auction_id: auction, watchers_count: count, watchers_seq: seq, server_time: "" });

  it("shows a newer count", () => {
    assert.deepEqual(watchersUpdate(0, event(1, 3), "a1"), { count: 3, seq: 1 });
    assert.deepEqual(watchersUpdate(4, event(6, 2), "a1"), { count: 2, seq: 6 });
  });

  it("ignores duplicates, older counts and other auctions", () => {
    assert.equal(watchersUpdate(4, event(4, 9), "a1"), null);
    assert.equal(watchersUpdate(4, event(3, 9), "a1"), null);
    assert.equal(watchersUpdate(0, event(1, 9, "a2"), "a1"), null);
  });

  it("ignores an event without numbers", () => {
    assert.equal(watchersUpdate(0, { auction_id: "a1", watchers_count: 2 }, "a1"), null);
    assert.equal(watchersUpdate(0, { auction_id: "a1", watchers_seq: 2 }, "a1"), null);
    assert.equal(watchersUpdate(0, null, "a1"), null);
  });

  it("ends on the newest count whatever order and repeats the events arrive in", () => {
    // watch, watch, unwatch, watch: counts 1, 2, 1, 2 with seqs 1..4.
    const events = [event(1, 1), event(2, 2), event(3, 1), event(4, 2)];
    const orders = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 3, 0, 2, 2]];
    for (const order of orders) {
      let shown = { count: 0, seq: 0 };
      for (const index of order) {
        shown = watchersUpdate(shown.seq, events[index], "a1") || shown;
      }
      assert.deepEqual(shown, { count: 2, seq: 4 }, "order " + order.join(","));
    }
  });
});
