/* Times as every page says them: spans ("3 h 05 min"), instants in the browser's zone with
 * the zone named, and both together. The server's owner of the span format is
 * frontend/times.py (_span, relative). No DOM here; "now" is always passed in. */

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                "Dec"];

/** Milliseconds since the epoch from an ISO 8601 string or a number (seconds or ms). */
export function parseInstant(value) {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") return value < 1e12 ? value * 1000 : value;
  const ms = Date.parse(value);
  return isNaN(ms) ? null : ms;
}

export function pad(n) { return (n < 10 ? "0" : "") + n; }

/** "2 d 4 h", "3 h 05 min", "4 min 05 s", "12 s": the same format as the server's. */
export function formatRemaining(ms) {
  let seconds = Math.floor(ms / 1000);
  const days = Math.floor(seconds / 86400); seconds -= days * 86400;
  const hours = Math.floor(seconds / 3600); seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60); seconds -= minutes * 60;
  if (days) return days + " d " + hours + " h";
  if (hours) return hours + " h " + pad(minutes) + " min";
  if (minutes) return minutes + " min " + pad(seconds) + " s";
  return seconds + " s";
}

/** The browser's zone as people say it ("CET", "EST", "GMT+5:30"), for an instant. */
export function zoneName(ms) {
  try {
    const parts = new Intl.DateTimeFormat("en-GB", { timeZoneName: "short" })
      .formatToParts(new Date(ms));
    for (const part of parts) {
      if (part.type === "timeZoneName") return part.value;
    }
  } catch (e) { /* an old browser: fall through */ }
  const offset = -new Date(ms).getTimezoneOffset();
  return "UTC" + (offset >= 0 ? "+" : "-") + pad(Math.floor(Math.abs(offset) / 60)) + ":" +
    pad(Math.abs(offset) % 60);
}

/** "30 Nov 2026, 14:05 CET" (with ``seconds``: "30 Nov 14:05:09 CET"), in the browser's zone. */
export function absoluteTime(ms, seconds) {
  const d = new Date(ms);
  const day = pad(d.getDate()) + " " + MONTHS[d.getMonth()];
  const clockText = pad(d.getHours()) + ":" + pad(d.getMinutes());
  if (seconds) return day + " " + clockText + ":" + pad(d.getSeconds()) + " " + zoneName(ms);
  return day + " " + d.getFullYear() + ", " + clockText + " " + zoneName(ms);
}

/** "in 3 h 12 min", "5 min 02 s ago" or "now": ``ms`` seen from ``nowMs``. */
export function relativeTime(ms, nowMs) {
  const delta = ms - nowMs;
  if (Math.abs(delta) < 1000) return "now";
  return delta > 0 ? "in " + formatRemaining(delta) : formatRemaining(-delta) + " ago";
}

/** "in 3 h 12 min · 30 Nov 2026, 14:05 CET": how every page says a time ("" for none). */
export function describeTime(value, seconds, nowMs) {
  const ms = parseInstant(value);
  if (ms === null) return "";
  return relativeTime(ms, nowMs) + " · " + absoluteTime(ms, seconds);
}

/** What a "time left" cell says at ``nowMs``: the span, or "ended" once past. */
export function timeLeft(endMs, nowMs) {
  return endMs - nowMs > 0 ? formatRemaining(endMs - nowMs) : "ended";
}
