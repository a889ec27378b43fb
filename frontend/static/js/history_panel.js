/* The auction page's bid history: fetched after the last seq the panel holds, after a new
 * bid, a gap in the seq numbers, or a reconnect. */

import { clock } from "./clock.js";
import { $ } from "./dom.js";
import { mergeHistoryPage } from "./sequence.js";
import { describeTime } from "./time.js";

export class HistoryPanel {
  /** ``root`` is the auction's element; ``money(minor)`` says an amount in its currency. */
  constructor(root, money) {
    this.url = root.getAttribute("data-history-url");
    this.money = money;
    // The panel holds every line up to this seq (from the page, then each catch-up).
    this.seq = parseInt(root.getAttribute("data-history-seq"), 10) || 0;
    this.loaded = root.getAttribute("data-history-loaded") === "true";
    this.timer = null;
    this.busy = false;
    this.again = false;
  }

  /** Catch up soon (once for many events; spread over a moment so that every watching page
   *  does not ask at the same instant). */
  schedule(delay) {
    if (this.timer !== null) return;
    const wait = delay !== undefined ? delay : Math.random() * 400;
    this.timer = window.setTimeout(() => {
      this.timer = null;
      this.catchUp();
    }, wait);
  }

  /** Fetch the history after ``seq``, page after page, and add the lines. */
  catchUp() {
    if (!this.url) return;
    if (this.busy) { this.again = true; return; }
    this.busy = true;
    let pages = 0;
    const fetchPage = () => {
      pages += 1;
      const url = this.url + "?after_seq=" + encodeURIComponent(this.seq);
      return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then((response) => response.ok ? response.json() : null)
        .then((body) => {
          if (!body) return undefined;
          if (this.add(body) && pages < 20) return fetchPage();
          return undefined;
        });
    };
    fetchPage().catch(() => null).then(() => {
      this.busy = false;
      if (this.again) {
        this.again = false;
        this.catchUp();
      }
    });
  }

  /** Add a history answer's lines (oldest first) on top of the panel; true when there is a
   *  next page. */
  add(body) {
    const list = $("history-lines");
    if (!list) return false;
    const merged = mergeHistoryPage(this.seq, body);
    merged.lines.forEach((item) => list.insertBefore(this.line(item), list.firstChild));
    if ($("history-empty")) $("history-empty").hidden = list.children.length > 0;
    if (!this.loaded) {
      this.loaded = true;
      const note = $("history-note");
      if (note) {
        note.textContent = "The latest bids; older ones are not shown.";
        note.hidden = this.seq === 0;
      }
    }
    this.seq = merged.historySeq;
    return merged.more;
  }

  /** One line, as the server renders it (frontend/templates/auction.html). */
  line(item) {
    const line = document.createElement("li");
    line.className = "history-line is-new" + (item.auto ? " is-auto" : "");
    line.setAttribute("data-seq", String(item.seq));
    line.setAttribute("data-bid-id", String(item.bid_id || ""));
    const add = function (tag, className, text) {
      const el = document.createElement(tag);
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
    const when = add("time", "history-time", describeTime(item.placed_at, true, clock.now()));
    when.setAttribute("datetime", item.placed_at || "");
    when.setAttribute("data-when", "seconds");
    return line;
  }
}
