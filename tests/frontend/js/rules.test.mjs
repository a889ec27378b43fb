// What the auction page shows from the live state (frontend/static/js/rules.js); the "how it
// ended" sentences are also checked against frontend/presenters.py by test_js_pinned.py.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  buyNowPriceAfter, buyNowShown, endedOutcome, isClosed, outcomeDecided, viewerLeads
} from "../../../frontend/static/js/rules.js";

describe("statuses", () => {
  it("ended and cancelled are closed; scheduled and live are not", () => {
    assert.equal(isClosed("ended"), true);
    assert.equal(isClosed("cancelled"), true);
    assert.equal(isClosed("live"), false);
    assert.equal(isClosed("scheduled"), false);
  });
});

describe("viewerLeads", () => {
  it("believes the caller's own you_lead first", () => {
    assert.equal(viewerLeads({ you_lead: true, leader_id: null }, "u1"), true);
    assert.equal(viewerLeads({ you_lead: false, leader_id: "u1" }, "u1"), false);
  });

  it("compares leader_id when that is all it has, and says nothing without either", () => {
    assert.equal(viewerLeads({ leader_id: "u1" }, "u1"), true);
    assert.equal(viewerLeads({ leader_id: "u2" }, "u1"), false);
    assert.equal(viewerLeads({ leader_id: "u1" }, null), false);
    assert.equal(viewerLeads({ current_price: 5 }, "u1"), null);
  });
});

describe("Buy It Now", () => {
  it("follows bidding's buy_now_available when it says it", () => {
    assert.equal(buyNowPriceAfter({ buy_now_available: false, bid_count: 0 }, 9000, false), null);
    assert.equal(buyNowPriceAfter({ buy_now_available: true, bid_count: 3, reserve_met: true },
                                  9000, false), 9000);
    assert.equal(buyNowPriceAfter({ buy_now_available: true, buy_now_price: 8000 }, null, false),
                 8000);
  });

  it("without buy_now_available, takes a live state's buy_now_price as it is", () => {
    assert.equal(buyNowPriceAfter({ buy_now_price: null, bid_count: 0 }, 9000, false), null);
    assert.equal(buyNowPriceAfter({ buy_now_price: 9000 }, null, false), 9000);
  });

  it("without either, a bid takes it away unless a reserve is still unmet", () => {
    const bid = (reserveMet) => ({ bid_count: 1, reserve_met: reserveMet });
    assert.equal(buyNowPriceAfter(bid(true), 9000, false), null);
    assert.equal(buyNowPriceAfter(bid(false), 9000, true), 9000);
    assert.equal(buyNowPriceAfter(bid(true), 9000, true), null);
    assert.equal(buyNowPriceAfter({ bid_count: 0, reserve_met: false }, 9000, false), 9000);
  });

  it("an update that says nothing about it leaves it as it was", () => {
    assert.equal(buyNowPriceAfter({ current_price: 1200 }, 9000, false), 9000);
  });

  it("is shown only with a price while bidding is open", () => {
    assert.equal(buyNowShown(9000, "live"), true);
    assert.equal(buyNowShown(9000, "scheduled"), false);
    assert.equal(buyNowShown(9000, "ended"), false);
    assert.equal(buyNowShown(null, "live"), false);
  });
});

describe("how an auction ended", () => {
  it("tells the winner, the seller and everybody else what a sale was for", () => {
    const sold = (user, seller) => endedOutcome("sold", "w1", 1250, "EUR", 2, user, seller);
    assert.equal(sold("w1", false), "You won this auction for EUR 12.50.");
    assert.equal(sold("s1", true), "Your item sold for EUR 12.50.");
    assert.equal(sold(null, false), "This auction has ended: sold for EUR 12.50.");
  });

  it("says why nothing was sold", () => {
    assert.equal(endedOutcome("unsold_reserve_not_met", null, 900, "EUR", 2, null, false),
                 "This auction has ended: the reserve was not met.");
    assert.equal(endedOutcome("unsold_no_bids", null, null, "EUR", 2, null, false),
                 "This auction has ended without any bids.");
    assert.equal(endedOutcome("cancelled", null, null, "EUR", 2, null, true),
                 "The seller cancelled this auction.");
  });

  it("says the result is coming while the closer has not decided", () => {
    assert.equal(outcomeDecided(null), false);
    assert.equal(outcomeDecided("sold"), true);
    assert.equal(endedOutcome(null, null, null, "EUR", 2, null, false),
                 "This auction has ended. The result will be shown in a moment.");
  });
});
