/* Small helpers every part of the page shares: elements by id, the CSRF token, and a form
 * posted once with its Idempotency-Key. */

export function $(id) { return document.getElementById(id); }

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

/** A random key for Idempotency-Key (crypto.randomUUID needs a secure context). */
function newKey() {
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.prototype.map.call(bytes, (b) => (b < 16 ? "0" : "") + b.toString(16)).join("");
}

/**
 * POST a form that carries an Idempotency-Key in the hidden input ``keyId``. An answer
 * (any status) means the next attempt is a new request, with a new key; no answer keeps
 * the key, so that trying again cannot do the thing twice.
 */
export function postOnce(form, keyId, onAnswer, onNoAnswer) {
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
export function pageResponseTime() {
  const nav = window.performance && performance.getEntriesByType
    ? performance.getEntriesByType("navigation")[0] : null;
  if (nav && nav.responseStart > 0) return performance.timeOrigin + nav.responseStart;
  return Date.now();
}
