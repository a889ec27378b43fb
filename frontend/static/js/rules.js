/* What the auction page shows, decided from the live state: statuses, who leads, Buy It Now,
 * and how an auction ended. No DOM here.
 *
 * Each rule has one owner elsewhere and this is a copy for display only: bidding_service
 * decides Buy-It-Now availability (``buy_now_available``); frontend/presenters.py owns the
 * "how it ended" sentences, and tests/frontend/test_js_pinned.py pins these to it.
 */

import { formatMoney } from "./money.js";

function has(object, name) { return Object.prototype.hasOwnProperty.call(object, name); }

/** Statuses after which an auction never changes again. */
export function isClosed(status) { return status === "ended" || status === "cancelled"; }

/**
 * Whether the viewer leads, from a live state, an event or a bid answer: true, false, or
 * null when it does not say. The one place that reads it: public events name nobody, and the
 * caller's own live state says ``you_lead``.
 */
export function viewerLeads(state, userId) {
  if (has(state, "you_lead")) return Boolean(state.you_lead);
  if (!has(state, "leader_id")) return null;
  return Boolean(userId && state.leader_id && String(state.leader_id) === userId);
}

/**
 * The Buy-It-Now price still offered after ``update`` (a live state, a ``bid.placed`` event
 * or a bid answer), given the price offered before (null: none) and whether the auction has a
 * reserve. Bidding decides: ``buy_now_available`` says it. Without that field (an older
 * server), a live state's ``buy_now_price`` says it as it is, and otherwise a bid takes it
 * away unless a reserve is still unmet.
 */
export function buyNowPriceAfter(update, offered, hasReserve) {
  if (typeof update.buy_now_available === "boolean") {
    if (!update.buy_now_available) return null;
    return has(update, "buy_now_price") && update.buy_now_price !== null
      ? update.buy_now_price : offered;
  }
  if (has(update, "buy_now_price")) return update.buy_now_price;
  if (has(update, "bid_count") && has(update, "reserve_met")) {
    return update.bid_count > 0 && !(hasReserve && !update.reserve_met) ? null : offered;
  }
  return offered;
}

/** Whether the Buy It Now button is shown: a price is offered and bidding is open. */
export function buyNowShown(price, status) {
  return price !== null && price !== undefined && status === "live";
}

/** Outcomes the closer has decided (anything else: not yet). */
const DECIDED_OUTCOMES = ["sold", "unsold_reserve_not_met", "unsold_no_bids", "cancelled"];

export function outcomeDecided(outcome) { return DECIDED_OUTCOMES.includes(outcome); }

/**
 * One sentence on how a closed auction turned out, for this viewer: the words of
 * presenters.ended_outcome(outcome, winner_id, price, currency, user_id, is_seller).
 */
export function endedOutcome(outcome, winnerId, price, currency, exponent, userId, isSeller) {
  if (outcome === "sold") {
    const amount = formatMoney(price, currency, exponent);
    if (userId && winnerId && String(winnerId) === String(userId)) {
      return "You won this auction for " + amount + ".";
    }
    if (isSeller) return "Your item sold for " + amount + ".";
    return "This auction has ended: sold for " + amount + ".";
  }
  if (outcome === "unsold_reserve_not_met") {
    return "This auction has ended: the reserve was not met.";
  }
  if (outcome === "unsold_no_bids") return "This auction has ended without any bids.";
  if (outcome === "cancelled") return "The seller cancelled this auction.";
  return "This auction has ended. The result will be shown in a moment.";
}
