/* Open Auction: live countdowns, bidding and Buy It Now without reloads, live updates and the
 * bid history over Socket.IO, photo uploads one at a time.
 *
 * Everything works without this script (plain forms and server-rendered figures); the script
 * only makes it live. It never sees the access token: the Socket.IO server reads the HttpOnly
 * cookie, and the page asks the frontend (not the API) for state.
 */
(function () {
  "use strict";

  // ---- small helpers ------------------------------------------------------------------------

  function $(id) { return document.getElementById(id); }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  /** Milliseconds since the epoch from an ISO 8601 string or a number (seconds or ms). */
  function parseInstant(value) {
    if (value === null || value === undefined || value === "") return null;
    if (typeof value === "number") return value < 1e12 ? value * 1000 : value;
    var ms = Date.parse(value);
    return isNaN(ms) ? null : ms;
  }

  /** 1250, "EUR", 2 -> "EUR 12.50" (the same format as the server's format_money). */
  function formatMoney(minor, currency, exponent) {
    if (minor === null || minor === undefined) return "—";
    var negative = minor < 0;
    var digits = String(Math.abs(Math.trunc(minor)));
    while (digits.length <= exponent) digits = "0" + digits;
    var whole = exponent ? digits.slice(0, -exponent) : digits;
    var fraction = exponent ? digits.slice(-exponent) : "";
    whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return currency + " " + (negative ? "-" : "") + whole + (fraction ? "." + fraction : "");
  }

  /** 1250, 2 -> "12.50": the amount as the bid field takes it. */
  function majorUnits(minor, exponent) {
    return formatMoney(minor, "", exponent).trim().replace(/,/g, "");
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  /** "2 d 4 h", "3 h 05 min", "4 min 05 s", "12 s": the same format as the server's. */
  function formatRemaining(ms) {
    var seconds = Math.floor(ms / 1000);
    var days = Math.floor(seconds / 86400); seconds -= days * 86400;
    var hours = Math.floor(seconds / 3600); seconds -= hours * 3600;
    var minutes = Math.floor(seconds / 60); seconds -= minutes * 60;
    if (days) return days + " d " + hours + " h";
    if (hours) return hours + " h " + pad(minutes) + " min";
    if (minutes) return minutes + " min " + pad(seconds) + " s";
    return seconds + " s";
  }

  // ---- times: one way everywhere, relative and absolute in the browser's zone, zone named --

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                "Dec"];

  /** The browser's zone as people say it ("CET", "EST", "GMT+5:30"), for an instant. */
  function zoneName(ms) {
    try {
      var parts = new Intl.DateTimeFormat("en-GB", { timeZoneName: "short" })
        .formatToParts(new Date(ms));
      for (var i = 0; i < parts.length; i += 1) {
        if (parts[i].type === "timeZoneName") return parts[i].value;
      }
    } catch (e) { /* an old browser: fall through */ }
    var offset = -new Date(ms).getTimezoneOffset();
    return "UTC" + (offset >= 0 ? "+" : "-") + pad(Math.floor(Math.abs(offset) / 60)) + ":" +
      pad(Math.abs(offset) % 60);
  }

  /** "30 Nov 2026, 14:05 CET" (with ``seconds``: "30 Nov 14:05:09 CET"), in the browser's zone. */
  function absoluteTime(ms, seconds) {
    var d = new Date(ms);
    var day = pad(d.getDate()) + " " + MONTHS[d.getMonth()];
    var clockText = pad(d.getHours()) + ":" + pad(d.getMinutes());
    if (seconds) return day + " " + clockText + ":" + pad(d.getSeconds()) + " " + zoneName(ms);
    return day + " " + d.getFullYear() + ", " + clockText + " " + zoneName(ms);
  }

  /** "in 3 h 12 min" or "5 min 02 s ago", by the server's clock. */
  function relativeTime(ms) {
    var delta = ms - clock.now();
    if (Math.abs(delta) < 1000) return "now";
    return delta > 0 ? "in " + formatRemaining(delta) : formatRemaining(-delta) + " ago";
  }

  /** "in 3 h 12 min · 30 Nov 2026, 14:05 CET": how every page says a time. */
  function describeTime(value, seconds) {
    var ms = parseInstant(value);
    if (ms === null) return "";
    return relativeTime(ms) + " · " + absoluteTime(ms, seconds);
  }

  /** Say every <time data-when> of the page again (the relative part moves on). */
  function refreshTimes() {
    document.querySelectorAll("time[data-when]").forEach(function (el) {
      var text = describeTime(el.getAttribute("datetime"),
                              el.getAttribute("data-when") === "seconds");
      if (text && el.textContent !== text) el.textContent = text;
    });
  }

  /** When a bid was placed, as the history panel says it. */
  function historyTime(value) {
    return describeTime(value, true);
  }

  /**
   * Whether the viewer leads, from a live state, an event or a bid answer: true, false, or
   * null when it does not say. The one place that reads it: the public answers will stop
   * naming the leader, and a caller-specific field will say it instead.
   */
  function viewerLeads(state, userId) {
    // The caller's own live state says it (you_lead); public events name nobody.
    if (Object.prototype.hasOwnProperty.call(state, "you_lead")) return Boolean(state.you_lead);
    if (!Object.prototype.hasOwnProperty.call(state, "leader_id")) return null;
    return Boolean(userId && state.leader_id && String(state.leader_id) === userId);
  }

  /** Statuses after which an auction never changes again. */
  function isClosed(status) { return status === "ended" || status === "cancelled"; }

  /** A random key for Idempotency-Key (crypto.randomUUID needs a secure context). */
  function newKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return (b < 16 ? "0" : "") + b.toString(16);
    }).join("");
  }

  /**
   * POST a form that carries an Idempotency-Key in the hidden input ``keyId``. An answer
   * (any status) means the next attempt is a new request, with a new key; no answer keeps
   * the key, so that trying again cannot do the thing twice.
   */
  function postOnce(form, keyId, onAnswer, onNoAnswer) {
    return fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { Accept: "application/json", "X-CSRF-Token": csrfToken() },
      credentials: "same-origin"
    }).then(function (response) {
      $(keyId).value = newKey();
      return response.json().catch(function () { return {}; }).then(function (body) {
        onAnswer(response.status, body);
      });
    }).catch(onNoAnswer);
  }

  /** When the page's HTML started arriving, by the browser's clock (for the clock offset). */
  function pageResponseTime() {
    var nav = window.performance && performance.getEntriesByType
      ? performance.getEntriesByType("navigation")[0] : null;
    if (nav && nav.responseStart > 0) return performance.timeOrigin + nav.responseStart;
    return Date.now();
  }

  // ---- server clock -------------------------------------------------------------------------

  /** The server's clock as seen from the browser: serverNow() = Date.now() + offset. */
  var clock = {
    offset: 0,
    /** A server timestamp read at browser time `atMs` (defaults to now). */
    sample: function (serverTime, atMs) {
      var server = parseInstant(serverTime);
      if (server !== null) this.offset = server - (atMs === undefined ? Date.now() : atMs);
    },
    /** An event's server_time: it was sent before it arrived, so only a later clock counts. */
    event: function (serverTime) {
      var server = parseInstant(serverTime);
      if (server !== null) this.offset = Math.max(this.offset, server - Date.now());
    },
    now: function () { return Date.now() + this.offset; }
  };

  // ---- toasts -------------------------------------------------------------------------------

  function toast(title, body, href) {
    var box = $("toasts");
    if (!box) return;
    var item = document.createElement("div");
    item.className = "toast";
    item.setAttribute("role", "status");
    var strong = document.createElement("strong");
    strong.textContent = title || "Notification";
    item.appendChild(strong);
    if (body) {
      var text = document.createElement("span");
      text.textContent = body;
      item.appendChild(text);
    }
    if (href) {
      var link = document.createElement("a");
      link.href = href;
      link.textContent = " View";
      item.appendChild(link);
    }
    item.addEventListener("click", function (event) {
      if (event.target.tagName !== "A") item.remove();
    });
    box.appendChild(item);
    window.setTimeout(function () { item.remove(); }, 8000);
  }

  // ---- the list of auctions: ticking "time left" ---------------------------------------------

  function tickListCountdowns() {
    var cells = document.querySelectorAll(".time-left[data-ends-at]");
    if (!cells.length) return;
    var update = function () {
      var now = clock.now();
      cells.forEach(function (cell) {
        var end = parseInstant(cell.getAttribute("data-ends-at"));
        if (end === null) return;
        cell.textContent = end - now > 0 ? formatRemaining(end - now) : "ended";
      });
    };
    update();
    window.setInterval(update, 1000);
  }

  // ---- the auction page ---------------------------------------------------------------------

  function AuctionPage(root, userId) {
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
    var buyNow = root.getAttribute("data-buy-now-price");
    this.buyNowPrice = buyNow ? parseInt(buyNow, 10) : null;
    this.stateUrl = root.getAttribute("data-state-url");
    this.historyUrl = root.getAttribute("data-history-url");
    // The history panel holds every line up to this seq (from the page, then each catch-up).
    this.historySeq = parseInt(root.getAttribute("data-history-seq"), 10) || 0;
    this.historyLoaded = root.getAttribute("data-history-loaded") === "true";
    this.leaderName = $("leader-name") ? $("leader-name").textContent : "";
    this.historyTimer = null;
    this.historyBusy = false;
    this.historyAgain = false;
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
    var self = this;
    this.tick();
    window.setInterval(function () { self.tick(); }, 1000);
    this.bindBidForm();
    this.bindBuyNow();
    if (!this.historyLoaded) this.catchUpHistory();
    if (this.root.getAttribute("data-has-live-state") !== "true") {
      // Just created: bidding_service may not know the auction yet.
      this.scheduleRefetch(1500);
    }
  };

  /** Update the countdown; once past the end, ask for the outcome a few times. */
  AuctionPage.prototype.tick = function () {
    var el = $("countdown");
    if (!el) return;
    if (isClosed(this.status)) {
      el.textContent = "ended";
      el.classList.remove("is-ending");
      return;
    }
    if (this.endsAt === null) return;
    var left = this.endsAt - clock.now();
    if (left > 0) {
      el.textContent = formatRemaining(left);
      el.classList.toggle("is-ending", left < 2 * 60 * 1000);
      return;
    }
    el.textContent = "ending…";
    var overdue = -left;
    if (overdue > 2000 + this.endChecks * 4000 && this.endChecks < 10) {
      this.endChecks += 1;
      this.refetch();
    }
  };

  /** Apply a state (the JSON of state.json, or the fields of an event). */
  AuctionPage.prototype.apply = function (state) {
    if (state.current_price !== undefined && state.current_price !== null) {
      this.price = state.current_price;
      var price = $("price");
      var text = this.money(state.current_price);
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
    var has = function (name) { return Object.prototype.hasOwnProperty.call(state, name); };
    if (has("leader_name")) this.leaderName = state.leader_name;
    if (has("has_reserve")) this.hasReserve = Boolean(state.has_reserve);
    if (has("reserve_met")) this.setReserve(state.reserve_met);
    var leads = viewerLeads(state, this.userId);
    if (leads !== null) this.setLeading(leads);
    if (has("buy_now_price")) {
      this.buyNowPrice = state.buy_now_price; // the live state says it as it is
    } else if (has("bid_count") && has("reserve_met")) {
      // A bid event names no bidder (only the caller's own state says who leads): any bid.
      this.buyNowTaken(state.bid_count > 0, state.reserve_met);
    }
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
    var line = $("leader-name-line");
    if (!line) return;
    line.hidden = !this.leaderName || isClosed(this.status) || this.leading; // "You are…" says it
    if ($("leader-name")) $("leader-name").textContent = this.leaderName || "";
  };

  /** "Reserve met" / "Reserve not met" (only for an auction with a reserve). */
  AuctionPage.prototype.setReserve = function (met) {
    this.reserveMet = Boolean(met);
    var el = $("reserve-status");
    if (!el) return;
    el.hidden = !this.hasReserve || isClosed(this.status);
    el.textContent = met ? "Reserve met" : "Reserve not met";
    el.className = "reserve reserve-" + (met ? "met" : "not-met");
  };

  /** Buy It Now is offered until the first bid, or with a reserve until it is met. */
  AuctionPage.prototype.buyNowTaken = function (hasLeader, reserveMet) {
    if (hasLeader && !(this.hasReserve && !reserveMet)) this.buyNowPrice = null;
  };

  AuctionPage.prototype.showBuyNow = function () {
    var box = $("buy-now");
    if (!box) return;
    var offered = this.buyNowPrice !== null && this.buyNowPrice !== undefined &&
      this.status === "live";
    box.hidden = !offered;
    if (offered && $("buy-now-price")) $("buy-now-price").textContent = this.money(this.buyNowPrice);
  };

  AuctionPage.prototype.setMinNextBid = function (minor) {
    if ($("min-next-bid")) $("min-next-bid").textContent = this.money(minor);
    var input = $("bid-amount");
    if (!input) return;
    input.placeholder = majorUnits(minor, this.exponent);
    var typed = parseFloat((input.value || "").replace(",", "."));
    if (!this.amountEdited || isNaN(typed) || typed * Math.pow(10, this.exponent) < minor) {
      input.value = majorUnits(minor, this.exponent);
      this.amountEdited = false;
    }
  };

  /** The viewer leads (or no longer does): an outbid viewer is told so. */
  AuctionPage.prototype.setLeading = function (leading) {
    var was = this.leading;
    this.leading = Boolean(leading);
    if (this.leading) this.hideOutbid();
    else if (was) this.showOutbid();
    this.showStanding();
  };

  /** The viewer's standing, said once and as it is now: leading (and whether the reserve
   *  still stands in the way), or outbid at the current price; nothing once it has ended. */
  AuctionPage.prototype.showStanding = function () {
    var closed = isClosed(this.status);
    this.showLeaderName();
    var el = $("leader");
    if (el) {
      el.hidden = !this.leading || closed;
      el.textContent = "You are the highest bidder" + (this.hasReserve && !this.reserveMet
        ? ", but the reserve is not met yet: raise your maximum to win" : "");
    }
    var banner = $("outbid-banner");
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
    var ms = parseInstant(value);
    if (ms === null) return;
    if (this.endsAt !== null && ms > this.endsAt && !isClosed(this.status)) {
      toast("Auction extended", "A late bid moved the end to " + absoluteTime(ms, true) + ".");
    }
    this.endsAt = ms;
    this.endChecks = 0;
    var el = $("ends-at");
    if (el) {
      el.setAttribute("datetime", new Date(ms).toISOString());
      el.textContent = describeTime(ms);
    }
    this.tick();
  };

  AuctionPage.prototype.setStatus = function (status, state) {
    this.status = status;
    var badge = $("auction-status");
    if (badge) {
      badge.textContent = status;
      badge.className = "badge badge-" + status;
    }
    if (!isClosed(status)) return;
    // An ended auction shows its outcome and nothing that was only true while it ran.
    ["bidding", "leader", "leader-name-line", "reserve-status", "live-note"].forEach(
      function (id) { if ($(id)) $(id).hidden = true; });
    var toggle = $("watch-toggle");
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
   *  the live state ({outcome, winner_id, current_price}): the server's words. */
  AuctionPage.prototype.showOutcome = function (ended) {
    var el = $("outcome");
    if (!el) return;
    var outcome = ended.outcome || (this.status === "cancelled" ? "cancelled" : null);
    var price = ended.price !== undefined && ended.price !== null ? ended.price : ended.current_price;
    var won = Boolean(this.userId && ended.winner_id && String(ended.winner_id) === this.userId);
    var text;
    if (outcome === "sold") {
      if (won) text = "You won this auction for " + this.money(price) + ".";
      else if (this.isSeller) text = "Your item sold for " + this.money(price) + ".";
      else text = "This auction has ended: sold for " + this.money(price) + ".";
    } else if (outcome === "unsold_reserve_not_met") {
      text = "This auction has ended: the reserve was not met.";
    } else if (outcome === "unsold_no_bids") {
      text = "This auction has ended without any bids.";
    } else if (outcome === "cancelled") {
      text = "The seller cancelled this auction.";
    } else {
      text = "This auction has ended. The result will be shown in a moment.";
      // The closer has not decided yet: ask again (auction.ended usually comes first).
      if (this.outcomeChecks < 10) {
        this.outcomeChecks += 1;
        this.scheduleRefetch(2000 + this.outcomeChecks * 1000);
      }
    }
    el.textContent = text;
    el.classList.toggle("outcome-won", won && outcome === "sold");
    el.hidden = false;
  };

  AuctionPage.prototype.showOutbid = function (event) {
    var banner = $("outbid-banner");
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
    var message = $("bid-message");
    if (message && (message.classList.contains("is-success") ||
                    message.querySelector(".flash-success"))) this.setMessage("", "");
  };

  AuctionPage.prototype.hideOutbid = function () {
    if ($("outbid-banner")) $("outbid-banner").hidden = true;
  };

  /** Fetch the live state now (after a gap, a reconnect, or to learn the minimum next bid). */
  AuctionPage.prototype.refetch = function () {
    var self = this;
    window.clearTimeout(this.refetchTimer);
    this.refetchTimer = null;
    var sent = Date.now();
    return fetch(this.stateUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) return null;
        return response.json().then(function (state) {
          var received = Date.now();
          if (state.server_time) clock.sample(state.server_time, (sent + received) / 2);
          if (typeof state.seq === "number" && state.seq < self.seq &&
              !(state.status === "ended" && state.outcome)) return state;
          if (typeof state.seq === "number") self.seq = state.seq;
          self.apply(state);
          return state;
        });
      })
      .catch(function () { return null; });
  };

  /** Refetch soon, once, however many events ask for it meanwhile (with jitter to spread load). */
  AuctionPage.prototype.scheduleRefetch = function (delay) {
    var self = this;
    var wait = delay !== undefined ? delay : 300 + Math.random() * 700;
    var due = Date.now() + wait;
    if (this.refetchTimer !== null && this.refetchDue <= due) return;
    window.clearTimeout(this.refetchTimer);
    this.refetchDue = due;
    this.refetchTimer = window.setTimeout(function () { self.refetch(); }, wait);
  };

  // ---- the bid history: fetched after the last seq the panel holds -------------------------

  /** Catch the history up soon (once for many events; spread over a moment so that every
   *  watching page does not ask at the same instant). */
  AuctionPage.prototype.scheduleHistory = function (delay) {
    var self = this;
    if (this.historyTimer !== null) return;
    var wait = delay !== undefined ? delay : Math.random() * 400;
    this.historyTimer = window.setTimeout(function () {
      self.historyTimer = null;
      self.catchUpHistory();
    }, wait);
  };

  /** Fetch the history after `historySeq`, page after page, and add the lines: what the page
   *  does after a new bid, a gap in the seq numbers, or a reconnect. */
  AuctionPage.prototype.catchUpHistory = function () {
    var self = this;
    if (!this.historyUrl) return;
    if (this.historyBusy) { this.historyAgain = true; return; }
    this.historyBusy = true;
    var pages = 0;
    var fetchPage = function () {
      pages += 1;
      var url = self.historyUrl + "?after_seq=" + encodeURIComponent(self.historySeq);
      return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (!body) return;
          if (self.addHistory(body) && pages < 20) return fetchPage();
        });
    };
    fetchPage().catch(function () { return null; }).then(function () {
      self.historyBusy = false;
      if (self.historyAgain) {
        self.historyAgain = false;
        self.catchUpHistory();
      }
    });
  };

  /** Add a history answer's lines (oldest first) on top of the panel; true when there is a
   *  next page. Lines of one seq never straddle two pages, so a seq is taken whole or not. */
  AuctionPage.prototype.addHistory = function (body) {
    var list = $("history-lines");
    if (!list) return false;
    var self = this;
    var highest = this.historySeq;
    (body.items || []).forEach(function (item) {
      if (typeof item.seq !== "number" || item.seq <= self.historySeq) return;
      list.insertBefore(self.historyLine(item), list.firstChild);
      highest = Math.max(highest, item.seq);
    });
    if ($("history-empty")) $("history-empty").hidden = list.children.length > 0;
    if (!this.historyLoaded) {
      this.historyLoaded = true;
      var note = $("history-note");
      if (note) {
        note.textContent = "The latest bids; older ones are not shown.";
        note.hidden = this.historySeq === 0;
      }
    }
    if (body.next_cursor) {
      this.historySeq = Math.max(highest, parseInt(body.next_cursor, 10) || 0);
      return true;
    }
    // The answer's seq was read before its lines: everything up to it is in the panel now.
    this.historySeq = Math.max(highest, typeof body.seq === "number" ? body.seq : 0);
    return false;
  };

  AuctionPage.prototype.historyLine = function (item) {
    var line = document.createElement("li");
    line.className = "history-line is-new" + (item.auto ? " is-auto" : "");
    line.setAttribute("data-seq", String(item.seq));
    line.setAttribute("data-bid-id", String(item.bid_id || ""));
    var add = function (tag, className, text) {
      var el = document.createElement(tag);
      el.className = className;
      el.textContent = text;
      if (line.firstChild) line.appendChild(document.createTextNode(" ")); // as the server's
      line.appendChild(el);
      return el;
    };
    add("span", "history-bidder", item.bidder || "***");
    add("span", "history-price", this.money(item.current_price));
    if (item.auto) {
      add("span", "tag tag-auto", "automatic")
        .title = "Placed by the system for this bidder's maximum";
    }
    if (item.yours) {
      line.classList.add("is-yours");
      add("span", "tag tag-you", "you");
    }
    var when = add("time", "history-time", historyTime(item.placed_at));
    when.setAttribute("datetime", item.placed_at || "");
    when.setAttribute("data-when", "seconds");
    return line;
  };

  // ---- live events ----------------------------------------------------------------------

  AuctionPage.prototype.onBidPlaced = function (event) {
    if (String(event.auction_id) !== this.id) return;
    clock.event(event.server_time);
    if (typeof event.seq === "number" && event.seq > this.historySeq) this.scheduleHistory();
    if (typeof event.seq === "number") {
      if (event.seq <= this.seq) return;
      var gap = event.seq > this.seq + 1;
      this.seq = event.seq;
      this.apply(event);
      if (gap) {
        // Something was missed: the state and the history since our last number.
        this.scheduleRefetch(0);
        this.scheduleHistory(0);
      } else if (event.min_next_bid === undefined) {
        this.scheduleRefetch();
      }
      return;
    }
    this.apply(event);
    this.scheduleRefetch();
  };

  /** Anti-sniping: a late bid moved the end; every countdown follows. */
  AuctionPage.prototype.onExtended = function (event) {
    if (String(event.auction_id) !== this.id) return;
    clock.event(event.server_time);
    var ms = parseInstant(event.ends_at);
    if (ms !== null && (this.endsAt === null || ms > this.endsAt)) this.setEndsAt(event.ends_at);
  };

  /** `auction.ended` {outcome, winner_id, price, seq}: the result, at once. */
  AuctionPage.prototype.onEnded = function (event) {
    if (String(event.auction_id) !== this.id) return;
    clock.event(event.server_time);
    if (typeof event.seq === "number") {
      if (event.seq > this.seq + 1) this.scheduleHistory(0); // a bid we missed came first
      this.seq = Math.max(this.seq, event.seq);
    }
    if (typeof event.price === "number") this.apply({ current_price: event.price });
    this.setStatus(event.outcome === "cancelled" ? "cancelled" : "ended", event);
    // The final figures (a Buy-It-Now sale adds a bid and a line to the history).
    this.scheduleRefetch(0);
    if (event.outcome === "sold") this.scheduleHistory();
  };

  /** "Your maximum: EUR 50.00" (a bidder's own, never shown to anybody else). */
  AuctionPage.prototype.setYourMax = function (minor) {
    var line = $("your-max");
    if (!line || $("your-max-amount") === null) return;
    var shown = parseInt(line.getAttribute("data-amount") || "0", 10) || 0;
    if (minor < shown) return;
    line.setAttribute("data-amount", String(minor));
    $("your-max-amount").textContent = this.money(minor);
    line.hidden = false;
  };

  AuctionPage.prototype.onOutbid = function (event) {
    if (String(event.auction_id) !== this.id) return false;
    // Public bid events name nobody: this private one is how the page learns it no longer leads.
    this.setLeading(false);
    this.showOutbid(event);
    return true;
  };

  AuctionPage.prototype.setMessage = function (text, kind) {
    var el = $("bid-message");
    if (!el) return;
    el.textContent = text;
    el.className = "bid-message" + (kind ? " is-" + kind : "");
  };

  /** Bid without reloading: the same form, posted by fetch, answered in JSON. */
  AuctionPage.prototype.bindBidForm = function () {
    var self = this;
    var form = $("bid-form");
    var input = $("bid-amount");
    if (!form || !window.fetch) return;
    if (input) input.addEventListener("input", function () { self.amountEdited = true; });
    var busy = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) return;
      // Not `disabled`: disabling the focused button would throw the focus to the page's top.
      busy = true;
      var button = $("bid-submit");
      if (button) button.setAttribute("aria-disabled", "true");
      self.setMessage("Placing your bid…", "");
      postOnce(form, "idempotency-key", function (status, body) {
        self.onBidAnswer(status, body);
      }, function () {
        self.setMessage("The server could not be reached. Try again.", "error");
      }).then(function () {
        busy = false;
        if (button) button.removeAttribute("aria-disabled");
      });
    });
  };

  AuctionPage.prototype.onBidAnswer = function (status, body) {
    if (status === 401) {
      this.setMessage("Your session has ended: please sign in again.", "error");
      window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname);
      return;
    }
    if (!body.ok) {
      this.setMessage(body.message || "Your bid was not accepted.", "error");
      var details = body.error && body.error.details;
      if (body.error && body.error.code === "too_low" && details && details.min_next_bid) {
        this.setMinNextBid(details.min_next_bid);
      }
      if (body.error && body.error.code === "auction_not_live") this.refetch();
      return;
    }
    var outbid = body.status === "outbid";
    this.setMessage(body.message, outbid ? "warning" : "success");
    this.amountEdited = false;
    if (typeof body.your_max === "number") this.setYourMax(body.your_max);
    if (typeof body.seq !== "number" || body.seq > this.seq) {
      // Newer than what the page shows: take price, minimum and end now; the bid.placed event
      // (or the refetch) brings the bid count and the sequence number.
      this.apply({ current_price: body.current_price, min_next_bid: body.min_next_bid,
                   ends_at: body.ends_at });
      this.buyNowTaken(true, body.reserve_met);
      this.showBuyNow();
      if (typeof body.reserve_met === "boolean") this.setReserve(body.reserve_met);
    }
    // Public bid events name nobody: the answer (unless the page has seen a newer decision)
    // and then the caller's own live state (you_lead) say whether this viewer leads.
    if (!outbid && (typeof body.seq !== "number" || body.seq >= this.seq)) this.setLeading(true);
    this.scheduleRefetch(1000);
    if (outbid) this.showOutbid(body);
  };

  /** Buy It Now: a first press arms the button, a second within 5 seconds buys. */
  AuctionPage.prototype.bindBuyNow = function () {
    var self = this;
    var form = $("buy-now-form");
    var button = $("buy-now-submit");
    var label = $("buy-now-label");
    if (!form || !button || !window.fetch) return;
    var disarmTimer = null;
    var disarm = function () {
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
      self.setMessage("Buying…", "");
      postOnce(form, "buy-now-key", function (status, body) {
        self.onBuyNowAnswer(status, body);
      }, function () {
        self.setMessage("The server could not be reached. Try again.", "error");
      }).then(function () {
        button.disabled = false;
      });
    });
  };

  AuctionPage.prototype.onBuyNowAnswer = function (status, body) {
    if (status === 401) {
      this.setMessage("Your session has ended: please sign in again.", "error");
      window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname);
      return;
    }
    if (!body.ok) {
      this.setMessage(body.message || "Buy It Now did not go through.", "error");
      var code = body.error && body.error.code;
      if (code === "buy_now_unavailable" || code === "auction_not_live") {
        this.buyNowPrice = null;
        this.showBuyNow();
        this.refetch();
      }
      return;
    }
    this.setMessage(body.message, "success");
    if (typeof body.seq === "number") this.seq = Math.max(this.seq, body.seq);
    this.apply({ current_price: body.price });
    this.setStatus("ended", { outcome: "sold", winner_id: this.userId, price: body.price });
    this.scheduleRefetch(0);
    this.scheduleHistory();
  };

  // ---- photos: one request per photo (the gateway takes 12 MB at most per request) ---------

  /** Send one photo to a photos URL, reporting progress (0..1); resolves to
   *  {added, problems} whatever happened. */
  function uploadPhoto(url, file, onProgress) {
    return new Promise(function (resolve) {
      var body = new FormData();
      body.append("csrf_token", csrfToken());
      body.append("file", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRF-Token", csrfToken());
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
      });
      xhr.addEventListener("load", function () {
        if (onProgress) onProgress(1);
        if (xhr.status === 413) {
          resolve({ added: 0, problems: [file.name + ": larger than 10 MB."] });
          return;
        }
        var answer = {};
        try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = {}; }
        var problems = answer.problems && answer.problems.length ? answer.problems
          : (answer.ok === false ? [file.name + ": " + (answer.message || "not added.")] : []);
        resolve({ added: answer.added || 0, problems: problems });
      });
      xhr.addEventListener("error", function () {
        resolve({ added: 0, problems: [file.name + ": the server could not be reached."] });
      });
      xhr.send(body);
    });
  }

  /** Send photos one after the other; ``progress(index, fraction)`` as they go. */
  function uploadPhotos(url, files, progress) {
    var added = 0;
    var problems = [];
    var sendNext = function (index) {
      if (index >= files.length) return Promise.resolve({ added: added, problems: problems });
      progress(index, 0);
      return uploadPhoto(url, files[index], function (fraction) {
        progress(index, fraction);
      }).then(function (result) {
        added += result.added;
        problems = problems.concat(result.problems);
        return sendNext(index + 1);
      });
    };
    return sendNext(0);
  }

  /** "Add photos" on the auction and Edit pages: with progress, then the page again (which
   *  says how many were added). */
  function bindPhotoForm() {
    var form = $("photo-form");
    var input = $("photo-file");
    if (!form || !input || !window.FormData) return;
    form.addEventListener("submit", function (event) {
      var files = Array.prototype.slice.call(input.files || []);
      if (!files.length) return; // the browser says the field is required
      event.preventDefault();
      var message = $("photo-message");
      var button = $("photo-submit");
      if (button) button.disabled = true;
      uploadPhotos(form.action, files, function (index, fraction) {
        if (message) {
          message.textContent = "Uploading photo " + (index + 1) + " of " + files.length +
            "… " + Math.round(fraction * 100) + "%";
        }
      }).then(function (result) {
        if (button) button.disabled = false;
        if (!result.problems.length) {
          window.location.reload();
          return;
        }
        if (message) {
          message.textContent = (result.added ? result.added +
            " photo(s) added; reload the page to see them. " : "") +
            "Not added: " + result.problems.join(" ");
        }
      });
    });
  }

  // ---- the menu's unread badge, and a sale's contact arriving while the page is open --------

  var unreadBadge = {
    show: function (count) {
      var badge = $("unread-badge");
      if (!badge) return;
      badge.textContent = String(Math.max(0, count));
      badge.hidden = count <= 0;
    },
    load: function () {
      var link = $("nav-notifications");
      if (!link || !window.fetch) return;
      var self = this;
      var asked = this.asked = (this.asked || 0) + 1;  // only the latest answer counts
      fetch(link.getAttribute("data-unread-url"), {
        credentials: "same-origin", headers: { Accept: "application/json" }
      }).then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (body && typeof body.count === "number" && asked === self.asked) self.show(body.count);
        })
        .catch(function () { return null; });
    }
  };

  /** A won / sold notice for the auction on screen carries the other party's contact. */
  function showSaleContact(page, event) {
    var data = event.data || {};
    var party = data.seller || data.buyer;
    if (!page || !party || data.auction_id !== page.id || $("sale-contact")) return;
    var box = document.createElement("section");
    box.className = "sale-contact card";
    box.id = "sale-contact";
    var heading = document.createElement("h2");
    heading.textContent = data.seller ? "The seller" : "The buyer";
    var contact = document.createElement("p");
    contact.className = "contact";
    var name = document.createElement("strong");
    name.id = "counterpart-name";
    name.textContent = party.display_name || "";
    contact.appendChild(name);
    if (party.email) {
      var mail = document.createElement("a");
      mail.id = "counterpart-email";
      mail.href = "mailto:" + party.email;
      mail.textContent = party.email;
      contact.appendChild(document.createTextNode(" "));
      contact.appendChild(mail);
    }
    var next = document.createElement("p");
    next.className = "next-step";
    next.id = "next-step";
    next.textContent = data.seller ? "Contact the seller to arrange payment and delivery." : "";
    box.appendChild(heading);
    box.appendChild(contact);
    if (next.textContent) box.appendChild(next);
    var anchor = data.seller ? $("outcome") : $("seller-tools");
    if (anchor && data.seller) anchor.parentNode.insertBefore(box, anchor.nextSibling);
    else if (anchor) anchor.appendChild(box);
  }

  /** The Sell form: the photos chosen on it are previewed, put in order (buttons or drag),
   *  and sent one by one with their progress once the item is listed; dates and times are
   *  the seller's own, in the zone the browser reports. */
  function bindSellForm() {
    var form = $("sell-form");
    if (!form || !window.FormData || !window.fetch) return;
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
    if (zone && $("time_zone")) {
      $("time_zone").value = zone;
      if ($("time-zone-name")) $("time-zone-name").textContent = zone + " (" + zoneName(Date.now()) + ")";
    }
    var input = $("sell-photo-file");
    var list = $("sell-photo-previews");
    var status = $("sell-status");
    var chosen = [];
    var render = function () {
      list.innerHTML = "";
      list.hidden = !chosen.length;
      chosen.forEach(function (item, index) {
        var li = document.createElement("li");
        li.className = "photo-preview";
        li.draggable = true;
        li.setAttribute("data-name", item.file.name);
        var img = document.createElement("img");
        img.src = item.url;
        img.alt = "Photo " + (index + 1) + ": " + item.file.name;
        li.appendChild(img);
        var name = document.createElement("span");
        name.className = "photo-preview-name";
        name.textContent = (index + 1) + ". " + item.file.name;
        li.appendChild(name);
        var bar = document.createElement("progress");
        bar.max = 100;
        bar.value = item.progress;
        bar.hidden = item.progress === null;
        bar.setAttribute("aria-label", "Upload of photo " + (index + 1));
        item.bar = bar;
        li.appendChild(bar);
        var tools = document.createElement("span");
        tools.className = "photo-preview-tools";
        [["Move earlier", -1], ["Move later", 1], ["Remove", 0]].forEach(function (spec) {
          var target = index + spec[1];
          if (spec[1] && (target < 0 || target >= chosen.length)) return;
          var button = document.createElement("button");
          button.type = "button";
          button.className = "link-button";
          button.textContent = spec[0];
          button.setAttribute("aria-label", spec[0] + ": photo " + (index + 1));
          button.addEventListener("click", function () {
            if (spec[1]) move(index, target);
            else { URL.revokeObjectURL(chosen[index].url); chosen.splice(index, 1); render(); }
          });
          tools.appendChild(button);
        });
        li.appendChild(tools);
        li.addEventListener("dragstart", function (event) {
          event.dataTransfer.setData("text/plain", String(index));
          event.dataTransfer.effectAllowed = "move";
        });
        li.addEventListener("dragover", function (event) { event.preventDefault(); });
        li.addEventListener("drop", function (event) {
          event.preventDefault();
          var from = parseInt(event.dataTransfer.getData("text/plain"), 10);
          if (!isNaN(from) && from !== index) move(from, index);
        });
        list.appendChild(li);
      });
    };
    var move = function (from, to) {
      var item = chosen.splice(from, 1)[0];
      chosen.splice(to, 0, item);
      render();
      if (status) status.textContent = item.file.name + " is now photo " + (to + 1) + ".";
    };
    if (input && list) {
      input.addEventListener("change", function () {
        Array.prototype.forEach.call(input.files || [], function (file) {
          chosen.push({ file: file, url: URL.createObjectURL(file), progress: null });
        });
        input.value = ""; // the list holds them: choosing again adds more
        render();
      });
    }
    var busy = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) return;
      busy = true;
      var button = $("sell-submit");
      if (button) button.setAttribute("aria-disabled", "true");
      var body = new FormData(form);
      body.delete("photo");
      body.append("photos_chosen", String(chosen.length));
      if (status) status.textContent = "Listing your item…";
      fetch(form.action, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": csrfToken() }
      }).then(function (response) {
        return response.json().catch(function () { return {}; });
      }).then(function (answer) {
        if (!answer.ok) {
          showFormErrors(form, answer);
          if (status) status.textContent = "";
          return;
        }
        if (!chosen.length) { window.location.href = answer.url; return; }
        var files = chosen.map(function (item) { return item.file; });
        return uploadPhotos(answer.photos_url, files, function (index, fraction) {
          chosen[index].progress = Math.round(fraction * 100);
          chosen[index].bar.hidden = false;
          chosen[index].bar.value = chosen[index].progress;
          if (status) {
            status.textContent = "Listed. Uploading photo " + (index + 1) + " of " +
              files.length + "… " + chosen[index].progress + "%";
          }
        }).then(function (result) {
          if (!result.problems.length) { window.location.href = answer.url; return; }
          status.innerHTML = "";
          status.appendChild(document.createTextNode("Listed with " + result.added +
            " photo(s). Not added: " + result.problems.join(" ") + " "));
          var link = document.createElement("a");
          link.href = answer.url;
          link.textContent = "Go to your auction";
          status.appendChild(link);
        });
      }).catch(function () {
        if (status) status.textContent = "The server could not be reached. Try again.";
      }).then(function () {
        busy = false;
        if (button) button.removeAttribute("aria-disabled");
      });
    });
  }

  /** A refused form's answer ({message, errors: {field: text}}) next to its fields. */
  function showFormErrors(form, answer) {
    form.querySelectorAll(".js-error").forEach(function (el) { el.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
    });
    var top = document.createElement("div");
    top.className = "form-message js-error";
    top.setAttribute("role", "alert");
    top.textContent = answer.message || "The item could not be listed.";
    form.parentNode.insertBefore(top, form);
    var first = null;
    Object.keys(answer.errors || {}).forEach(function (name) {
      var field = form.querySelector('[name="' + name + '"]');
      if (!field) return;
      var text = document.createElement("p");
      text.className = "error-text js-error";
      text.id = name + "-js-error";
      text.textContent = answer.errors[name];
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", text.id);
      field.parentNode.appendChild(text);
      if (!first) first = field;
    });
    if (answer.idempotency_key) {
      var key = form.querySelector('[name="idempotency_key"]');
      if (key) key.value = answer.idempotency_key;
    }
    (first || top).scrollIntoView({ block: "center" });
    if (first) first.focus();
  }

  // ---- the menu: folds behind a button on narrow screens ------------------------------------

  function bindMenu() {
    var button = $("menu-toggle");
    var nav = $("main-nav");
    if (!button || !nav) return;
    var header = button.closest(".site-header");
    if (header) header.classList.add("has-menu-toggle");
    button.hidden = false;
    var setOpen = function (open) {
      nav.classList.toggle("is-open", open);
      button.setAttribute("aria-expanded", open ? "true" : "false");
    };
    button.addEventListener("click", function () {
      setOpen(button.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
        setOpen(false);
        button.focus();
      }
    });
  }

  // ---- photos: thumbnails swap the main photo; the main photo opens a zoomable viewer ------

  function bindGallery() {
    var gallery = $("gallery");
    var main = $("gallery-main");
    var photo = $("gallery-photo");
    if (!gallery || !main || !photo) return;
    var thumbs = Array.prototype.slice.call(gallery.querySelectorAll(".gallery-thumb"));
    var photos = thumbs.length ? thumbs.map(function (thumb) {
      return { src: thumb.getAttribute("href"), alt: thumb.querySelector("img").alt,
               width: thumb.getAttribute("data-width"), height: thumb.getAttribute("data-height") };
    }) : [{ src: main.getAttribute("href"), alt: photo.alt, width: photo.getAttribute("width"),
            height: photo.getAttribute("height") }];
    var current = 0;
    var show = function (index) {
      current = (index + photos.length) % photos.length;
      var chosen = photos[current];
      photo.src = chosen.src;
      photo.alt = chosen.alt;
      if (chosen.width) photo.setAttribute("width", chosen.width);
      if (chosen.height) photo.setAttribute("height", chosen.height);
      main.href = chosen.src;
      main.setAttribute("aria-label", "Photo " + (current + 1) + " of " + photos.length +
                        ": open the photo viewer");
      thumbs.forEach(function (thumb, i) {
        if (i === current) thumb.setAttribute("aria-current", "true");
        else thumb.removeAttribute("aria-current");
      });
    };
    thumbs.forEach(function (thumb, index) {
      thumb.addEventListener("click", function (event) {
        event.preventDefault();
        show(index);
      });
    });
    var viewer = null;
    main.addEventListener("click", function (event) {
      if (typeof HTMLDialogElement !== "function") return; // the plain link still works
      event.preventDefault();
      if (!viewer) viewer = new PhotoViewer(photos);
      viewer.open(current, function (index) { show(index); });
    });
  }

  /** A full-screen photo viewer (a modal <dialog>): previous/next by button, arrow keys or
   *  swipe; zoom by button, +/- or a click on the photo (then drag or scroll to look around);
   *  Escape or Close returns to the page. */
  function PhotoViewer(photos) {
    var self = this;
    this.photos = photos;
    this.index = 0;
    this.zoomed = false;
    var dialog = document.createElement("dialog");
    dialog.className = "lightbox";
    dialog.id = "lightbox";
    dialog.setAttribute("aria-label", "Photos");
    dialog.innerHTML =
      '<div class="lightbox-bar">' +
      '<span class="lightbox-count" id="lightbox-count" aria-live="polite"></span>' +
      '<button type="button" class="lightbox-button" id="lightbox-zoom" aria-pressed="false">Zoom in</button>' +
      '<button type="button" class="lightbox-button" id="lightbox-close">Close</button>' +
      '</div>' +
      '<div class="lightbox-stage" id="lightbox-stage"><img id="lightbox-photo" alt=""></div>' +
      '<button type="button" class="lightbox-nav lightbox-prev" id="lightbox-prev" aria-label="Previous photo">‹</button>' +
      '<button type="button" class="lightbox-nav lightbox-next" id="lightbox-next" aria-label="Next photo">›</button>';
    document.body.appendChild(dialog);
    this.dialog = dialog;
    this.stage = dialog.querySelector("#lightbox-stage");
    this.img = dialog.querySelector("#lightbox-photo");
    this.img.draggable = false; // a native image drag would swallow the swipe
    var single = photos.length < 2;
    dialog.querySelector("#lightbox-prev").hidden = single;
    dialog.querySelector("#lightbox-next").hidden = single;
    dialog.querySelector("#lightbox-prev").addEventListener("click", function () { self.step(-1); });
    dialog.querySelector("#lightbox-next").addEventListener("click", function () { self.step(1); });
    dialog.querySelector("#lightbox-close").addEventListener("click", function () { dialog.close(); });
    dialog.querySelector("#lightbox-zoom").addEventListener("click", function () { self.zoom(!self.zoomed); });
    this.img.addEventListener("click", function () { self.zoom(!self.zoomed); });
    dialog.addEventListener("keydown", function (event) {
      if (event.key === "ArrowRight") { self.step(1); event.preventDefault(); }
      else if (event.key === "ArrowLeft") { self.step(-1); event.preventDefault(); }
      else if (event.key === "+" || event.key === "=") self.zoom(true);
      else if (event.key === "-") self.zoom(false);
    });
    // Swipe: a mostly horizontal move of 50 px or more, when not zoomed in.
    var start = null;
    this.stage.addEventListener("pointerdown", function (event) {
      start = { x: event.clientX, y: event.clientY };
    });
    this.stage.addEventListener("pointercancel", function () { start = null; });
    this.stage.addEventListener("pointerup", function (event) {
      if (!start || self.zoomed) { start = null; return; }
      var dx = event.clientX - start.x;
      var dy = event.clientY - start.y;
      start = null;
      if (Math.abs(dx) >= 50 && Math.abs(dx) > Math.abs(dy)) self.step(dx < 0 ? 1 : -1);
    });
    dialog.addEventListener("close", function () {
      self.zoom(false);
      if (self.onClose) self.onClose(self.index);
    });
  }

  PhotoViewer.prototype.open = function (index, onClose) {
    this.onClose = onClose;
    this.show(index);
    this.dialog.showModal();
  };

  PhotoViewer.prototype.step = function (delta) { this.show(this.index + delta); };

  PhotoViewer.prototype.show = function (index) {
    var count = this.photos.length;
    this.index = (index + count) % count;
    var chosen = this.photos[this.index];
    this.zoom(false);
    this.img.src = chosen.src;
    this.img.alt = chosen.alt;
    this.dialog.querySelector("#lightbox-count").textContent =
      "Photo " + (this.index + 1) + " of " + count;
  };

  PhotoViewer.prototype.zoom = function (on) {
    this.zoomed = Boolean(on);
    this.dialog.classList.toggle("is-zoomed", this.zoomed);
    var button = this.dialog.querySelector("#lightbox-zoom");
    button.setAttribute("aria-pressed", this.zoomed ? "true" : "false");
    button.textContent = this.zoomed ? "Zoom out" : "Zoom in";
  };

  // ---- live updates -------------------------------------------------------------------------

  function setLiveStatus(connected) {
    var el = $("live-status");
    if (!el) return;
    el.hidden = false;
    el.textContent = connected ? "Live" : "Reconnecting…";
    el.classList.toggle("is-live", connected);
  }

  function connectLive(page) {
    if (typeof window.io !== "function") return null;
    var socket = window.io({ transports: ["websocket", "polling"] });

    socket.on("connect", function () {
      setLiveStatus(true);
      if (!page) return;
      // Join the auction's room, then catch up on whatever happened before we were in it.
      socket.timeout(3000).emit("watch", { auction_id: page.id }, function () {
        page.refetch();
        page.scheduleHistory(0);
      });
    });
    socket.on("disconnect", function () {
      setLiveStatus(false);
      // Reconnecting sends the access token cookie again: a state request first lets the
      // frontend refresh it if it has expired meanwhile.
      if (page) page.refetch();
    });

    // The server lost its feed of events for a moment (a broker reconnect): catch up as after
    // a reconnect of our own.
    socket.on("resync", function () {
      if (!page) return;
      page.refetch();
      page.scheduleHistory(0);
    });

    if (page) {
      socket.on("bid.placed", function (event) { page.onBidPlaced(event || {}); });
      socket.on("auction.extended", function (event) { page.onExtended(event || {}); });
      socket.on("auction.ended", function (event) { page.onEnded(event || {}); });
    }
    socket.on("bid.outbid", function (event) {
      event = event || {};
      if (page && page.onOutbid(event)) return;
      toast("You have been outbid", event.title || "", event.auction_id
        ? "/auctions/" + encodeURIComponent(event.auction_id) : null);
    });
    socket.on("notification", function (event) {
      event = event || {};
      unreadBadge.load();  // the server's count: never counts a notice twice
      showSaleContact(page, event);
      var auctionId = event.data && event.data.auction_id;
      // On the auction's own page the outbid banner says it, with the newest price.
      if (page && event.kind === "outbid" && String(auctionId) === page.id) return;
      toast(event.title, event.body, auctionId ? "/auctions/" + encodeURIComponent(auctionId) : null);
    });
    // The access token the socket connected with has expired: reconnect with a fresh one (the
    // disconnect handler's state request lets the frontend refresh the cookie first).
    socket.on("session.expired", function (event) {
      if (event && event.reason === "token_expired") {
        socket.disconnect();
        window.setTimeout(function () { socket.connect(); }, 1000);
      }
    });
    return socket;
  }

  // ---- start --------------------------------------------------------------------------------

  function start() {
    var body = document.body;
    clock.sample(body.getAttribute("data-server-time"), pageResponseTime());
    var root = $("auction");
    var page = null;
    if (root) {
      page = new AuctionPage(root, body.getAttribute("data-user-id"));
      page.start();
    }
    tickListCountdowns();
    refreshTimes();
    window.setInterval(refreshTimes, 1000);
    bindMenu();
    bindGallery();
    bindPhotoForm();
    unreadBadge.load();
    bindSellForm();
    if (body.getAttribute("data-live") === "on") connectLive(page);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
