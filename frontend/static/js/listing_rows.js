/* A seller's table of their own listings (My listings), kept live: each running listing's
 * row follows its auction's room — the price and bid count from `bid.placed`, the watchers
 * from `auction.watchers`, the end from `auction.extended` and `bid.placed` — so the seller sees bids and
 * watchers arrive without reloading; and once in the rooms (after every connect) the rows
 * fetch their state, for whatever happened while the connection was down. */

import { formatMoney } from "./money.js";
import { watchersUpdate } from "./sequence.js";
import { parseInstant } from "./time.js";

/** What a `bid.placed` changes in a row showing `shownBids` bids: `{price, bids}`, or null
 *  when the event is not newer. A bid count never falls, so the higher count is the newer
 *  state whatever order events arrive in (and a repeated event changes nothing). */
export function rowBidUpdate(shownBids, event) {
  if (!event || typeof event.bid_count !== "number" || typeof event.current_price !== "number") {
    return null;
  }
  if (event.bid_count <= shownBids) return null;
  return { price: event.current_price, bids: event.bid_count };
}

/** The end a row takes from a numbered event or state (`{seq, ends_at}`) when it shows the
 *  end of `shownSeq` (-1: the page's own, unnumbered): `{seq, endsAt}`, or null when it is
 *  older or not numbered. The auction's `seq` orders its ends as bidding, their owner, made
 *  them (before the first bid the seller may move the end either way, a late bid extends
 *  it), so whatever order answers and events arrive in, the newest stays; a repeat changes
 *  nothing. */
export function rowEndUpdate(shownSeq, event) {
  if (!event || typeof event.seq !== "number" || parseInstant(event.ends_at) === null) {
    return null;
  }
  if (event.seq < shownSeq) return null;
  return { seq: event.seq, endsAt: event.ends_at };
}

function cell(row, name) {
  return row.querySelector("." + name);
}

/** The live rows of the page, or null when it has none. */
export function listingRows(doc) {
  const rows = new Map();
  doc.querySelectorAll("tr[data-live-row][data-auction-id]").forEach(function (row) {
    rows.set(row.getAttribute("data-auction-id"), row);
  });
  if (!rows.size) return null;
  return {
    ids: Array.from(rows.keys()),
    onBidPlaced(event) {
      const row = rows.get(String((event || {}).auction_id));
      const bids = row && cell(row, "cell-bids");
      if (!bids) return;
      this.onExtended(event);  // a bid's event carries the end (a late bid extends it)
      const update = rowBidUpdate(parseInt(bids.textContent, 10) || 0, event);
      if (!update) return;
      bids.textContent = String(update.bids);
      const price = cell(row, "cell-price");
      if (price) {
        price.textContent = formatMoney(update.price, row.getAttribute("data-currency"),
                                        parseInt(row.getAttribute("data-exponent"), 10) || 0);
      }
    },
    onWatchers(event) {
      const id = String((event || {}).auction_id);
      const watchers = rows.has(id) && cell(rows.get(id), "cell-watchers");
      if (!watchers) return;
      const shown = parseInt(watchers.getAttribute("data-watchers-seq"), 10) || 0;
      const update = watchersUpdate(shown, event, id);
      if (!update) return;
      watchers.setAttribute("data-watchers-seq", String(update.seq));
      watchers.textContent = String(update.count);
    },
    onExtended(event) {
      const row = rows.get(String((event || {}).auction_id));
      const left = row && row.querySelector(".time-left[data-ends-at]");
      if (!left) return;
      const shown = left.hasAttribute("data-end-seq")
        ? parseInt(left.getAttribute("data-end-seq"), 10) : -1;
      const update = rowEndUpdate(shown, event);
      if (!update) return;
      left.setAttribute("data-end-seq", String(update.seq));
      left.setAttribute("data-ends-at", update.endsAt);  // the countdown reads it each second
    },
    /** Fetch each row's state and apply what is newer than the row shows. */
    refetch() {
      const self = this;
      return Promise.all(Array.from(rows.keys()).map(function (id) {
        return fetch("/auctions/" + encodeURIComponent(id) + "/state.json",
                     { headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(function (response) { return response.ok ? response.json() : null; })
          .then(function (state) {
            if (!state) return;
            const event = Object.assign({}, state, { auction_id: id });
            self.onBidPlaced(event);  // the price, the bid count and the end
            self.onWatchers(event);
          })
          .catch(function () { return null; });  // the next connect tries again
      }));
    },
  };
}
