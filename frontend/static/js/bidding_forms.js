/* The auction page's two forms, posted without reloading: a bid (the same form, answered in
 * JSON) and Buy It Now (armed by a first press, bought by a second). Without the script they
 * post as plain forms and the server answers with the page. */

import { $, postOnce } from "./dom.js";
import { buyNowPriceAfter } from "./rules.js";

function has(object, name) { return Object.prototype.hasOwnProperty.call(object, name); }

/** The line under the bid field that says how a bid went. */
export function setMessage(text, kind) {
  const el = $("bid-message");
  if (!el) return;
  el.textContent = text;
  el.className = "bid-message" + (kind ? " is-" + kind : "");
}

function sessionEnded() {
  setMessage("Your session has ended: please sign in again.", "error");
  window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname);
}

/** Bid without reloading (``page`` is the AuctionPage the form belongs to). */
export function bindBidForm(page) {
  const form = $("bid-form");
  const input = $("bid-amount");
  if (!form || !window.fetch) return;
  if (input) input.addEventListener("input", function () { page.amountEdited = true; });
  let busy = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) return;
    // Not `disabled`: disabling the focused button would throw the focus to the page's top.
    busy = true;
    const button = $("bid-submit");
    if (button) button.setAttribute("aria-disabled", "true");
    setMessage("Placing your bid…", "");
    postOnce(form, "idempotency-key", function (status, body) {
      onBidAnswer(page, status, body);
    }, function () {
      setMessage("The server could not be reached. Try again.", "error");
    }).then(function () {
      busy = false;
      if (button) button.removeAttribute("aria-disabled");
    });
  });
}

/** What the bid's answer changes on the page. */
function onBidAnswer(page, status, body) {
  if (status === 401) { sessionEnded(); return; }
  if (!body.ok) {
    setMessage(body.message || "Your bid was not accepted.", "error");
    const details = body.error && body.error.details;
    if (body.error && body.error.code === "too_low" && details && details.min_next_bid) {
      page.setMinNextBid(details.min_next_bid);
    }
    if (body.error && body.error.code === "auction_not_live") page.refetch();
    return;
  }
  const outbid = body.status === "outbid";
  setMessage(body.message, outbid ? "warning" : "success");
  page.amountEdited = false;
  if (typeof body.your_max === "number") page.setYourMax(body.your_max);
  if (typeof body.seq !== "number" || body.seq > page.seq) {
    // Newer than what the page shows: take price, minimum and end now; the bid.placed event
    // (or the refetch) brings the bid count and the sequence number.
    page.apply({ current_price: body.current_price, min_next_bid: body.min_next_bid,
                 ends_at: body.ends_at });
    // An accepted bid is a bid: bidding says what it leaves of Buy It Now, else the rule.
    const update = has(body, "buy_now_available")
      ? { buy_now_available: body.buy_now_available }
      : { bid_count: 1, reserve_met: body.reserve_met };
    page.buyNowPrice = buyNowPriceAfter(update, page.buyNowPrice, page.hasReserve);
    page.showBuyNow();
    if (typeof body.reserve_met === "boolean") page.setReserve(body.reserve_met);
  }
  // Public bid events name nobody: the answer (unless the page has seen a newer decision)
  // and then the caller's own live state (you_lead) say whether this viewer leads.
  if (!outbid && (typeof body.seq !== "number" || body.seq >= page.seq)) page.setLeading(true);
  page.scheduleRefetch(1000);
  if (outbid) page.showOutbid(body);
}

/** Buy It Now: a first press arms the button, a second within 5 seconds buys. */
export function bindBuyNow(page) {
  const form = $("buy-now-form");
  const button = $("buy-now-submit");
  const label = $("buy-now-label");
  if (!form || !button || !window.fetch) return;
  let disarmTimer = null;
  const disarm = function () {
    window.clearTimeout(disarmTimer);
    button.classList.remove("is-armed");
    if (label) label.textContent = "Buy It Now for";
  };
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!button.classList.contains("is-armed")) {
      button.classList.add("is-armed");
      if (label) label.textContent = "Confirm: buy now for";
      disarmTimer = window.setTimeout(disarm, 5000);
      return;
    }
    disarm();
    button.disabled = true;
    setMessage("Buying…", "");
    postOnce(form, "buy-now-key", function (status, body) {
      onBuyNowAnswer(page, status, body);
    }, function () {
      setMessage("The server could not be reached. Try again.", "error");
    }).then(function () {
      button.disabled = false;
    });
  });
}

/** What the Buy-It-Now answer changes on the page. */
function onBuyNowAnswer(page, status, body) {
  if (status === 401) { sessionEnded(); return; }
  if (!body.ok) {
    setMessage(body.message || "Buy It Now did not go through.", "error");
    const code = body.error && body.error.code;
    if (code === "buy_now_unavailable" || code === "auction_not_live") {
      page.buyNowPrice = null;
      page.showBuyNow();
      page.refetch();
    }
    return;
  }
  setMessage(body.message, "success");
  if (typeof body.seq === "number") page.seq = Math.max(page.seq, body.seq);
  page.apply({ current_price: body.price });
  page.setStatus("ended", { outcome: "sold", winner_id: page.userId, price: body.price });
  page.scheduleRefetch(0);
  page.history.schedule();
}
