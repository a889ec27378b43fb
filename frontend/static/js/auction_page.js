/* The auction page made live: countdown, price, standing, reserve, Buy It Now and outcome,
 * kept up to date from live events and the live state. What each event means for the page
 * is decided by the pure modules (sequence.js, rules.js); this one only shows it. */

import { bindBidForm, bindBuyNow, setMessage } from "./bidding_forms.js";
import { clock } from "./clock.js";
import { $, pageResponseTime } from "./dom.js";
import { HistoryPanel } from "./history_panel.js";
import { formatMoney, majorUnits } from "./money.js";
import {
  buyNowPriceAfter, buyNowShown, endedOutcome, isClosed, outcomeDecided, viewerLeads
} from "./rules.js";
import { placeBidEvent, placeEndedEvent, stateIsStale, watchersUpdate } from "./sequence.js";
import { absoluteTime, describeTime, formatRemaining, parseInstant } from "./time.js";
import { toast } from "./toast.js";

function has(object, name) { return Object.prototype.hasOwnProperty.call(object, name); }

export function AuctionPage(root, userId) {
  this.root = root;
  this.id = root.getAttribute("data-auction-id");
  this.currency = root.getAttribute("data-currency");
  this.exponent = parseInt(root.getAttribute("data-exponent"), 10) || 0;
  this.seq = parseInt(root.getAttribute("data-seq"), 10) || 0;
  this.status = root.getAttribute("data-status");
  this.endsAt = parseInstant(root.getAttribute("data-ends-at"));
  this.userId = userId || null;
  this.leading = viewerLeads({ leader_id: root.getAttribute("data-leader-id") || null },
                             this.userId);
  this.price = null;
  this.reserveMet = root.getAttribute("data-reserve-met") === "true";
  this.isSeller = root.getAttribute("data-seller") === "true";
  this.hasReserve = root.getAttribute("data-has-reserve") === "true";
  const buyNow = root.getAttribute("data-buy-now-price");
  this.buyNowPrice = buyNow ? parseInt(buyNow, 10) : null;
  this.stateUrl = root.getAttribute("data-state-url");
  this.history = new HistoryPanel(root, (minor) => this.money(minor));
  this.leaderName = $("leader-name") ? $("leader-name").textContent : "";
  // The highest watchers_seq shown: the rendered count's own number (the catalog's), so that
  // an event older than the page changes nothing.
  const watchers = $("watchers-count");
  this.watchersSeq = watchers
    ? parseInt(watchers.getAttribute("data-watchers-seq"), 10) || 0 : 0;
  this.refetchTimer = null;
  this.refetchDue = 0;
  this.endChecks = 0;
  this.outcomeChecks = 0;
  this.amountEdited = false;
  clock.sample(root.getAttribute("data-server-time"), pageResponseTime());
}

AuctionPage.prototype.money = function (minor) {
  return formatMoney(minor, this.currency, this.exponent);
};

AuctionPage.prototype.start = function () {
  const self = this;
  this.tick();
  window.setInterval(function () { self.tick(); }, 1000);
  bindBidForm(this);
  bindBuyNow(this);
  if (!this.history.loaded) this.history.catchUp();
  if (this.root.getAttribute("data-has-live-state") !== "true") {
    // Just created: bidding_service may not know the auction yet.
    this.scheduleRefetch(1500);
  }
};

/** Update the countdown; once past the end, ask for the outcome a few times. */
AuctionPage.prototype.tick = function () {
  const el = $("countdown");
  if (!el) return;
  if (isClosed(this.status)) {
    el.textContent = "ended";
    el.classList.remove("is-ending");
    return;
  }
  if (this.endsAt === null) return;
  const left = this.endsAt - clock.now();
  if (left > 0) {
    el.textContent = formatRemaining(left);
    el.classList.toggle("is-ending", left < 2 * 60 * 1000);
    return;
  }
  el.textContent = "ending…";
  const overdue = -left;
  if (overdue > 2000 + this.endChecks * 4000 && this.endChecks < 10) {
    this.endChecks += 1;
    this.refetch();
  }
};

/** Apply a state (the JSON of state.json, the fields of an event, or of a bid answer). */
AuctionPage.prototype.apply = function (state) {
  if (state.current_price !== undefined && state.current_price !== null) {
    this.price = state.current_price;
    const price = $("price");
    const text = this.money(state.current_price);
    if (price && price.textContent !== text) {
      price.textContent = text;
      price.classList.remove("flash-update");
      void price.offsetWidth; // restart the animation
      price.classList.add("flash-update");
    }
  }
  if (state.bid_count !== undefined && state.bid_count !== null && $("bid-count")) {
    $("bid-count").textContent = String(state.bid_count);
  }
  if (state.min_next_bid !== undefined && state.min_next_bid !== null) {
    this.setMinNextBid(state.min_next_bid);
  }
  if (has(state, "leader_name")) this.leaderName = state.leader_name;
  if (has(state, "has_reserve")) this.hasReserve = Boolean(state.has_reserve);
  if (has(state, "reserve_met")) this.setReserve(state.reserve_met);
  const leads = viewerLeads(state, this.userId);
  if (leads !== null) this.setLeading(leads);
  this.buyNowPrice = buyNowPriceAfter(state, this.buyNowPrice, this.hasReserve);
  if (state.ends_at) this.setEndsAt(state.ends_at);
  if (state.status) {
    this.setStatus(state.outcome === "cancelled" ? "cancelled" : state.status, state);
  }
  this.showBuyNow();
  this.showLeaderName();
  this.showStanding();
};

/** "Highest bidder: a***e" (the masked name, as in the history), while bidding is open. */
AuctionPage.prototype.showLeaderName = function () {
  const line = $("leader-name-line");
  if (!line) return;
  line.hidden = !this.leaderName || isClosed(this.status) || this.leading; // "You are…" says it
  if ($("leader-name")) $("leader-name").textContent = this.leaderName || "";
};

/** "Reserve met" / "Reserve not met" (only for an auction with a reserve). */
AuctionPage.prototype.setReserve = function (met) {
  this.reserveMet = Boolean(met);
  const el = $("reserve-status");
  if (!el) return;
  el.hidden = !this.hasReserve || isClosed(this.status);
  el.textContent = met ? "Reserve met" : "Reserve not met";
  el.className = "reserve reserve-" + (met ? "met" : "not-met");
};

AuctionPage.prototype.showBuyNow = function () {
  const box = $("buy-now");
  if (!box) return;
  const offered = buyNowShown(this.buyNowPrice, this.status);
  box.hidden = !offered;
  if (offered && $("buy-now-price")) $("buy-now-price").textContent = this.money(this.buyNowPrice);
};

AuctionPage.prototype.setMinNextBid = function (minor) {
  if ($("min-next-bid")) $("min-next-bid").textContent = this.money(minor);
  const input = $("bid-amount");
  if (!input) return;
  input.placeholder = majorUnits(minor, this.exponent);
  const typed = parseFloat((input.value || "").replace(",", "."));
  if (!this.amountEdited || isNaN(typed) || typed * Math.pow(10, this.exponent) < minor) {
    input.value = majorUnits(minor, this.exponent);
    this.amountEdited = false;
  }
};

/** The viewer leads (or no longer does): an outbid viewer is told so. */
AuctionPage.prototype.setLeading = function (leading) {
  const was = this.leading;
  this.leading = Boolean(leading);
  if (this.leading) this.hideOutbid();
  else if (was) this.showOutbid();
  this.showStanding();
};

/** The viewer's standing, said once and as it is now: leading (and whether the reserve
 *  still stands in the way), or outbid at the current price; nothing once it has ended. */
AuctionPage.prototype.showStanding = function () {
  const closed = isClosed(this.status);
  this.showLeaderName();
  const el = $("leader");
  if (el) {
    el.hidden = !this.leading || closed;
    el.textContent = "You are the highest bidder" + (this.hasReserve && !this.reserveMet
      ? ", but the reserve is not met yet: raise your maximum to win" : "");
  }
  const banner = $("outbid-banner");
  if (banner && !banner.hidden) {
    if (closed || this.leading) banner.hidden = true;
    else banner.textContent = this.outbidText();
  }
};

AuctionPage.prototype.outbidText = function () {
  return "You have been outbid" + (this.price !== null
    ? ": the price is now " + this.money(this.price) + ". Bid at least " +
      ($("min-next-bid") ? $("min-next-bid").textContent : "the minimum") + " to lead again."
    : ".");
};

/** Move the end (anti-sniping moves it later): whichever of bid.placed, auction.extended
 *  or a refetch brings it first; a later end is announced once. */
AuctionPage.prototype.setEndsAt = function (value) {
  const ms = parseInstant(value);
  if (ms === null) return;
  if (this.endsAt !== null && ms > this.endsAt && !isClosed(this.status)) {
    toast("Auction extended", "A late bid moved the end to " + absoluteTime(ms, true) + ".");
  }
  this.endsAt = ms;
  this.endChecks = 0;
  const el = $("ends-at");
  if (el) {
    el.setAttribute("datetime", new Date(ms).toISOString());
    el.textContent = describeTime(ms, false, clock.now());
  }
  this.tick();
};

AuctionPage.prototype.setStatus = function (status, state) {
  this.status = status;
  const badge = $("auction-status");
  if (badge) {
    badge.textContent = status;
    badge.className = "badge badge-" + status;
  }
  if (!isClosed(status)) return;
  // An ended auction shows its outcome and nothing that was only true while it ran.
  ["bidding", "leader", "leader-name-line", "reserve-status", "live-note"].forEach(
    function (id) { if ($(id)) $(id).hidden = true; });
  const toggle = $("watch-toggle");
  if (toggle && toggle.getAttribute("aria-pressed") !== "true" && $("watch-form")) {
    $("watch-form").hidden = true;
  }
  if ($("price-label")) $("price-label").textContent = "Final price";
  this.buyNowPrice = null;
  this.showBuyNow();
  this.hideOutbid();
  this.showStanding();
  this.showOutcome(state || {});
  this.tick();
};

/** How a closed auction turned out, from `auction.ended` ({outcome, winner_id, price}) or
 *  the live state ({outcome, winner_id, current_price}): the server's words (rules.js). */
AuctionPage.prototype.showOutcome = function (ended) {
  const el = $("outcome");
  if (!el) return;
  const outcome = ended.outcome || (this.status === "cancelled" ? "cancelled" : null);
  const price = ended.price !== undefined && ended.price !== null ? ended.price : ended.current_price;
  const won = Boolean(this.userId && ended.winner_id && String(ended.winner_id) === this.userId);
  if (!outcomeDecided(outcome) && this.outcomeChecks < 10) {
    // The closer has not decided yet: ask again (auction.ended usually comes first).
    this.outcomeChecks += 1;
    this.scheduleRefetch(2000 + this.outcomeChecks * 1000);
  }
  el.textContent = endedOutcome(outcome, ended.winner_id, price, this.currency, this.exponent,
                                this.userId, this.isSeller);
  el.classList.toggle("outcome-won", won && outcome === "sold");
  el.hidden = false;
};

AuctionPage.prototype.showOutbid = function (event) {
  const banner = $("outbid-banner");
  if (!banner || isClosed(this.status)) return;
  // An event can be older than what the page shows: only a later price counts.
  if (event && typeof event.current_price === "number" && this.price === null) {
    this.price = event.current_price;
  }
  this.leading = false;
  banner.textContent = this.outbidText();
  banner.hidden = false;
  this.showStanding();
  // "Your bid was placed: you are the highest bidder" is no longer true: do not leave it.
  const message = $("bid-message");
  if (message && (message.classList.contains("is-success") ||
                  message.querySelector(".flash-success"))) setMessage("", "");
};

AuctionPage.prototype.hideOutbid = function () {
  if ($("outbid-banner")) $("outbid-banner").hidden = true;
};

/** Fetch the live state now (after a gap, a reconnect, or to learn the minimum next bid). */
AuctionPage.prototype.refetch = function () {
  const self = this;
  window.clearTimeout(this.refetchTimer);
  this.refetchTimer = null;
  const sent = Date.now();
  return fetch(this.stateUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) return null;
      return response.json().then(function (state) {
        const received = Date.now();
        if (state.server_time) clock.sample(state.server_time, (sent + received) / 2);
        self.onWatchers({ auction_id: self.id, watchers_count: state.watchers_count,
                          watchers_seq: state.watchers_seq });
        if (stateIsStale(state, self.seq)) return state;
        if (typeof state.seq === "number") self.seq = state.seq;
        self.apply(state);
        return state;
      });
    })
    .catch(function () { return null; });
};

/** Refetch soon, once, however many events ask for it meanwhile (with jitter to spread load). */
AuctionPage.prototype.scheduleRefetch = function (delay) {
  const self = this;
  const wait = delay !== undefined ? delay : 300 + Math.random() * 700;
  const due = Date.now() + wait;
  if (this.refetchTimer !== null && this.refetchDue <= due) return;
  window.clearTimeout(this.refetchTimer);
  this.refetchDue = due;
  this.refetchTimer = window.setTimeout(function () { self.refetch(); }, wait);
};

// ---- live events ------------------------------------------------------------------------

AuctionPage.prototype.onBidPlaced = function (event) {
  if (String(event.auction_id) !== this.id) return;
  clock.event(event.server_time);
  if (typeof event.seq === "number" && event.seq > this.history.seq) this.history.schedule();
  const placed = placeBidEvent(this.seq, event.seq);
  if (!placed.apply) return;
  this.seq = placed.seen;
  this.apply(event);
  if (placed.gap) {
    // Something was missed: the state and the history since our last number.
    this.scheduleRefetch(0);
    this.history.schedule(0);
  } else if (!placed.numbered || event.min_next_bid === undefined) {
    this.scheduleRefetch();
  }
};

/** Anti-sniping: a late bid moved the end; every countdown follows. */
AuctionPage.prototype.onExtended = function (event) {
  if (String(event.auction_id) !== this.id) return;
  clock.event(event.server_time);
  const ms = parseInstant(event.ends_at);
  if (ms !== null && (this.endsAt === null || ms > this.endsAt)) this.setEndsAt(event.ends_at);
};

/** `auction.ended` {outcome, winner_id, price, seq}: the result, at once. */
AuctionPage.prototype.onEnded = function (event) {
  if (String(event.auction_id) !== this.id) return;
  clock.event(event.server_time);
  const ended = placeEndedEvent(this.seq, event.seq);
  if (ended.missed) this.history.schedule(0); // a bid we missed came first
  this.seq = ended.seen;
  if (typeof event.price === "number") this.apply({ current_price: event.price });
  this.setStatus(event.outcome === "cancelled" ? "cancelled" : "ended", event);
  // The final figures (a Buy-It-Now sale adds a bid and a line to the history).
  this.scheduleRefetch(0);
  if (event.outcome === "sold") this.history.schedule();
};

/** `auction.watchers` {watchers_count, watchers_seq}: how many watch it, newest only. */
AuctionPage.prototype.onWatchers = function (event) {
  const update = watchersUpdate(this.watchersSeq, event, this.id);
  const el = $("watchers-count");
  if (!update || !el) return;
  this.watchersSeq = update.seq;
  el.textContent = String(update.count);
};

AuctionPage.prototype.onOutbid = function (event) {
  if (String(event.auction_id) !== this.id) return false;
  // Public bid events name nobody: this private one is how the page learns it no longer leads.
  this.setLeading(false);
  this.showOutbid(event);
  return true;
};

/** "Your maximum: EUR 50.00" (a bidder's own, never shown to anybody else). */
AuctionPage.prototype.setYourMax = function (minor) {
  const line = $("your-max");
  if (!line || $("your-max-amount") === null) return;
  const shown = parseInt(line.getAttribute("data-amount") || "0", 10) || 0;
  if (minor < shown) return;
  line.setAttribute("data-amount", String(minor));
  $("your-max-amount").textContent = this.money(minor);
  line.hidden = false;
};
