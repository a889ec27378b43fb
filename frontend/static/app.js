/* Open Auction: live countdowns, bidding without reloads, live updates over Socket.IO.
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

  /** "2d 4h", "3h 05m", "4m 05s": the same format as the server's time_left. */
  function formatRemaining(ms) {
    var seconds = Math.floor(ms / 1000);
    var days = Math.floor(seconds / 86400); seconds -= days * 86400;
    var hours = Math.floor(seconds / 3600); seconds -= hours * 3600;
    var minutes = Math.floor(seconds / 60); seconds -= minutes * 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    if (days) return days + "d " + hours + "h";
    if (hours) return hours + "h " + pad(minutes) + "m";
    return minutes + "m " + pad(seconds) + "s";
  }

  /** A random key for Idempotency-Key (crypto.randomUUID needs a secure context). */
  function newKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return (b < 16 ? "0" : "") + b.toString(16);
    }).join("");
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
    this.leaderId = root.getAttribute("data-leader-id") || null;
    this.userId = userId || null;
    this.stateUrl = root.getAttribute("data-state-url");
    this.refetchTimer = null;
    this.refetchDue = 0;
    this.endChecks = 0;
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
    if (this.root.getAttribute("data-has-live-state") !== "true") {
      // Just created: bidding_service may not know the auction yet.
      this.scheduleRefetch(1500);
    }
  };

  /** Update the countdown; once past the end, ask for the outcome a few times. */
  AuctionPage.prototype.tick = function () {
    var el = $("countdown");
    if (!el) return;
    if (this.status === "ended") { el.textContent = "ended"; el.classList.remove("is-ending"); return; }
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
    if (Object.prototype.hasOwnProperty.call(state, "leader_id")) this.setLeader(state.leader_id);
    if (state.ends_at) this.setEndsAt(state.ends_at);
    if (state.status) this.setStatus(state.status, state);
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

  AuctionPage.prototype.setLeader = function (leaderId) {
    var wasLeader = this.isLeader();
    this.leaderId = leaderId ? String(leaderId) : null;
    var leading = this.isLeader();
    var el = $("leader");
    if (el) el.hidden = !leading || this.status === "ended";
    if (leading) this.hideOutbid();
    else if (wasLeader) this.showOutbid();
  };

  AuctionPage.prototype.isLeader = function () {
    return Boolean(this.userId && this.leaderId && this.leaderId === this.userId);
  };

  AuctionPage.prototype.setEndsAt = function (value) {
    var ms = parseInstant(value);
    if (ms === null) return;
    this.endsAt = ms;
    this.endChecks = 0;
    var el = $("ends-at");
    if (el) {
      el.setAttribute("datetime", new Date(ms).toISOString());
      el.textContent = new Date(ms).toLocaleString();
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
    if (status !== "ended") return;
    var form = $("bid-form");
    if (form) form.hidden = true;
    if ($("leader")) $("leader").hidden = true;
    this.hideOutbid();
    this.showOutcome(state || {});
    this.tick();
  };

  AuctionPage.prototype.showOutcome = function (ended) {
    var el = $("outcome");
    if (!el) return;
    var winner = ended.winner_id !== undefined ? ended.winner_id : this.leaderId;
    var price = [ended.final_price, ended.price, ended.current_price]
      .find(function (v) { return v !== undefined && v !== null; });
    var sold = Boolean(winner) && ended.outcome !== "no_sale" && ended.reserve_met !== false;
    if (!sold) {
      el.textContent = ended.reserve_met === false
        ? "This auction has ended: the reserve was not met."
        : "This auction has ended without a sale.";
    } else if (this.userId && String(winner) === this.userId) {
      el.textContent = "You won this auction for " + this.money(price) + ".";
      this.hideOutbid();
    } else {
      el.textContent = "This auction has ended: sold for " + this.money(price) + ".";
    }
    el.hidden = false;
  };

  AuctionPage.prototype.showOutbid = function (event) {
    var banner = $("outbid-banner");
    if (!banner || this.status === "ended") return;
    var price = event && event.current_price !== undefined ? event.current_price : null;
    banner.textContent = "You have been outbid" +
      (price !== null ? ": the price is now " + this.money(price) + "." : ".");
    banner.hidden = false;
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
          if (typeof state.seq === "number" && state.seq < self.seq) return state;
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

  AuctionPage.prototype.onBidPlaced = function (event) {
    if (String(event.auction_id) !== this.id) return;
    clock.event(event.server_time);
    if (typeof event.seq === "number") {
      if (event.seq <= this.seq) return;
      var gap = event.seq > this.seq + 1;
      this.seq = event.seq;
      this.apply(event);
      if (gap || event.min_next_bid === undefined) this.scheduleRefetch(gap ? 0 : undefined);
      return;
    }
    this.apply(event);
    this.scheduleRefetch();
  };

  AuctionPage.prototype.onExtended = function (event) {
    if (String(event.auction_id) !== this.id) return;
    clock.event(event.server_time);
    var ms = parseInstant(event.ends_at);
    if (ms !== null && (this.endsAt === null || ms > this.endsAt)) {
      this.setEndsAt(event.ends_at);
      toast("Auction extended", "A late bid extended the end of this auction.");
    }
  };

  AuctionPage.prototype.onEnded = function (event) {
    if (String(event.auction_id) !== this.id) return;
    clock.event(event.server_time);
    this.setStatus("ended", event);
    this.refetch();
  };

  AuctionPage.prototype.onOutbid = function (event) {
    if (String(event.auction_id) !== this.id) return false;
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
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = $("bid-submit");
      if (button) button.disabled = true;
      self.setMessage("Placing your bid…", "");
      fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { Accept: "application/json", "X-CSRF-Token": csrfToken() },
        credentials: "same-origin"
      }).then(function (response) {
        // An answer came back: the next attempt is a new bid, with a new key.
        $("idempotency-key").value = newKey();
        return response.json().catch(function () { return {}; }).then(function (body) {
          self.onBidAnswer(response.status, body);
        });
      }).catch(function () {
        // No answer: keep the key, so that trying again cannot place the bid twice.
        self.setMessage("The server could not be reached. Try again.", "error");
      }).then(function () {
        if (button) button.disabled = false;
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
    if (typeof body.seq !== "number" || body.seq > this.seq) {
      // Newer than what the page shows: take price, minimum and end now; the bid.placed event
      // (or the refetch) brings the bid count and the sequence number.
      this.apply({ current_price: body.current_price, min_next_bid: body.min_next_bid,
                   ends_at: body.ends_at });
      if (!outbid) this.setLeader(this.userId);
      this.scheduleRefetch(1000);
    }
    if (outbid) this.showOutbid(body);
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
      socket.timeout(3000).emit("watch", { auction_id: page.id }, function () { page.refetch(); });
    });
    socket.on("disconnect", function () {
      setLiveStatus(false);
      // Reconnecting sends the access token cookie again: a state request first lets the
      // frontend refresh it if it has expired meanwhile.
      if (page) page.refetch();
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
      var auctionId = event.data && event.data.auction_id;
      toast(event.title, event.body, auctionId ? "/auctions/" + encodeURIComponent(auctionId) : null);
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
    if (body.getAttribute("data-live") === "on") connectLive(page);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
