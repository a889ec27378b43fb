/* The server's clock as seen from the browser, so that countdowns end when the server says
 * (the browser's clock may be minutes off). No DOM here. */

import { parseInstant } from "./time.js";

export class ServerClock {
  /** ``browserNow`` reads the browser's clock (tests pass their own). */
  constructor(browserNow = Date.now) {
    this.browserNow = browserNow;
    this.offset = 0;
  }

  /** A server timestamp read at browser time ``atMs`` (defaults to now). */
  sample(serverTime, atMs) {
    const server = parseInstant(serverTime);
    if (server !== null) this.offset = server - (atMs === undefined ? this.browserNow() : atMs);
  }

  /** An event's server_time: it was sent before it arrived, so only a later clock counts. */
  event(serverTime) {
    const server = parseInstant(serverTime);
    if (server !== null) this.offset = Math.max(this.offset, server - this.browserNow());
  }

  /** Milliseconds since the epoch by the server's clock. */
  now() { return this.browserNow() + this.offset; }
}

/** The page's one clock: every countdown and relative time reads it. */
export const clock = new ServerClock();
