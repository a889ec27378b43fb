// Spans and times (frontend/static/js/time.js) and the server's clock (clock.js).
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ServerClock } from "../../../frontend/static/js/clock.js";
import {
  describeTime, formatRemaining, parseInstant, relativeTime, timeLeft
} from "../../../frontend/static/js/time.js";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe("parseInstant", () => {
  it("reads ISO 8601, epoch seconds and epoch milliseconds", () => {
    assert.equal(parseInstant("2026-11-30T12:00:00Z"), Date.UTC(2026, 10, 30, 12));
    assert.equal(parseInstant(1764504000), 1764504000 * 1000);
    assert.equal(parseInstant(1764504000123), 1764504000123);
  });

  it("is null for nothing or nonsense", () => {
    for (const value of [null, undefined, "", "not a time"]) {
      assert.equal(parseInstant(value), null);
    }
  });
});

describe("formatRemaining", () => {
  it("says the two largest units, minutes and seconds on two digits", () => {
    assert.equal(formatRemaining(2 * DAY + 4 * HOUR + 5 * MINUTE), "2 d 4 h");
    assert.equal(formatRemaining(3 * HOUR + 5 * MINUTE + 9 * SECOND), "3 h 05 min");
    assert.equal(formatRemaining(4 * MINUTE + 5 * SECOND), "4 min 05 s");
    assert.equal(formatRemaining(12 * SECOND + 999), "12 s");
  });
});

describe("relative times", () => {
  const now = Date.UTC(2026, 10, 30, 12);

  it("says the future with 'in', the past with 'ago', and under a second as now", () => {
    assert.equal(relativeTime(now + 3 * HOUR + 12 * MINUTE, now), "in 3 h 12 min");
    assert.equal(relativeTime(now - 5 * MINUTE - 2 * SECOND, now), "5 min 02 s ago");
    assert.equal(relativeTime(now + 999, now), "now");
  });

  it("joins the relative and the absolute time, and says nothing for no time", () => {
    const text = describeTime(new Date(now + 5 * MINUTE).toISOString(), false, now);
    assert.match(text, /^in 5 min 00 s · \d\d \w{3} 2026, \d\d:\d\d \S+$/);
    assert.equal(describeTime("", false, now), "");
  });

  it("says 'ended' once the end has passed", () => {
    assert.equal(timeLeft(now + 90 * SECOND, now), "1 min 30 s");
    assert.equal(timeLeft(now, now), "ended");
  });
});

describe("ServerClock", () => {
  it("reads the server's time from a sample taken at a browser instant", () => {
    let browser = 1000;
    const clock = new ServerClock(() => browser);
    clock.sample("1970-01-01T00:00:05Z", 1000);
    assert.equal(clock.now(), 5000);
    browser = 2000;
    assert.equal(clock.now(), 6000);
  });

  it("lets an event only move the clock later: it was sent before it arrived", () => {
    const clock = new ServerClock(() => 10000);
    clock.sample("1970-01-01T00:00:20Z", 10000);
    clock.event("1970-01-01T00:00:15Z");
    assert.equal(clock.now(), 20000);
    clock.event("1970-01-01T00:00:25Z");
    assert.equal(clock.now(), 25000);
  });

  it("ignores a time it cannot read", () => {
    const clock = new ServerClock(() => 10000);
    clock.sample("garbage");
    clock.event(null);
    assert.equal(clock.now(), 10000);
  });
});
