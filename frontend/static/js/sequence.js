/* Sequence numbers and gaps: what the auction page does with each numbered thing it receives.
 *
 * Every auction event carries the auction's ``seq``; events arrive late, twice or out of
 * order, so the page keeps the highest number it has applied and decides from it alone. A
 * jump of more than one means something was missed: the page then fetches the state and the
 * history since its last number. No DOM here: these are the decisions, the page acts on them.
 */

function isNumber(value) { return typeof value === "number" && !isNaN(value); }

/**
 * Where a ``bid.placed`` event with ``seq`` stands against the highest number applied
 * (``seen``): ``apply`` (newer, or not numbered at all), ``gap`` (numbers were skipped),
 * ``numbered`` (whether it carried a number) and ``seen`` (the highest number afterwards).
 */
export function placeBidEvent(seen, seq) {
  if (!isNumber(seq)) return { apply: true, gap: false, numbered: false, seen };
  if (seq <= seen) return { apply: false, gap: false, numbered: true, seen };
  return { apply: true, gap: seq > seen + 1, numbered: true, seen: seq };
}

/**
 * ``auction.ended`` always applies (an auction ends once, whatever came before): the highest
 * number afterwards, and whether a bid before it was missed.
 */
export function placeEndedEvent(seen, seq) {
  if (!isNumber(seq)) return { missed: false, seen };
  return { missed: seq > seen + 1, seen: Math.max(seen, seq) };
}

/**
 * Whether a fetched live state is older than what the page shows (an answer overtaken by an
 * event): the page keeps its own then, except for the final state of an ended auction, which
 * is never overtaken.
 */
export function stateIsStale(state, seen) {
  return isNumber(state.seq) && state.seq < seen && !(state.status === "ended" && state.outcome);
}

/**
 * One page of the bid history (``{items, seq, next_cursor}``, oldest first) against the panel,
 * which holds every line up to ``historySeq``: the lines to add (oldest first), the panel's
 * number afterwards, and whether there is a next page. Lines of one seq never straddle two
 * pages, so a seq is taken whole or not at all.
 */
export function mergeHistoryPage(historySeq, body) {
  const lines = (body.items || []).filter(
    (item) => isNumber(item.seq) && item.seq > historySeq);
  const highest = lines.reduce((most, item) => Math.max(most, item.seq), historySeq);
  if (body.next_cursor) {
    return { lines, historySeq: Math.max(highest, parseInt(body.next_cursor, 10) || 0),
             more: true };
  }
  // The answer's seq was read before its lines: everything up to it is in the panel now.
  return { lines, historySeq: Math.max(highest, isNumber(body.seq) ? body.seq : 0), more: false };
}

/**
 * ``auction.watchers`` ({auction_id, watchers_count, watchers_seq}) against the highest
 * ``watchers_seq`` shown: the count to show and the new highest, or null when the event is
 * for another auction, malformed, a duplicate or older than what is shown. Watching has its
 * own number (not the bids' seq): it is a distinct fact.
 */
export function watchersUpdate(shownSeq, event, auctionId) {
  if (!event || String(event.auction_id) !== String(auctionId)) return null;
  const seq = event.watchers_seq;
  const count = event.watchers_count;
  if (!isNumber(seq) || !isNumber(count) || seq <= shownSeq) return null;
  return { count: Math.max(0, count), seq };
}
