/* Times on every page: each <time data-when> said again as it moves on, and the list of
 * auctions' ticking "time left" (browse, watching, my listings), by the server's clock. */

import { clock } from "./clock.js";
import { describeTime, parseInstant, timeLeft } from "./time.js";

/** Say every <time data-when> of the page again (the relative part moves on). */
export function refreshTimes() {
  const now = clock.now();
  document.querySelectorAll("time[data-when]").forEach(function (el) {
    const text = describeTime(el.getAttribute("datetime"),
                              el.getAttribute("data-when") === "seconds", now);
    if (text && el.textContent !== text) el.textContent = text;
  });
}

/** The list of auctions: every ".time-left[data-ends-at]" ticks once a second. */
export function tickListCountdowns() {
  const cells = document.querySelectorAll(".time-left[data-ends-at]");
  if (!cells.length) return;
  const update = function () {
    const now = clock.now();
    cells.forEach(function (cell) {
      const end = parseInstant(cell.getAttribute("data-ends-at"));
      if (end !== null) cell.textContent = timeLeft(end, now);
    });
  };
  update();
  window.setInterval(update, 1000);
}
