/* The Sell form made friendlier: the photos chosen on it are previewed, put in order (buttons
 * or drag) and sent one by one once the item is listed; a refused form's messages appear next
 * to their fields without a reload. Without the script the form posts as it is. */

import { $, csrfToken } from "./dom.js";
import { uploadPhotos } from "./photos.js";
import { zoneName } from "./time.js";

/** The Sell form: the photos chosen on it are previewed, put in order (buttons or drag),
 *  and sent one by one with their progress once the item is listed; dates and times are
 *  the seller's own, in the zone the browser reports. */
export function bindSellForm() {
  const form = $("sell-form");
  if (!form || !window.FormData || !window.fetch) return;
  let zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  if (zone && $("time_zone")) {
    $("time_zone").value = zone;
    if ($("time-zone-name")) $("time-zone-name").textContent = zone + " (" + zoneName(Date.now()) + ")";
  }
  const input = $("sell-photo-file");
  const list = $("sell-photo-previews");
  const status = $("sell-status");
  const chosen = [];
  const render = function () {
    list.innerHTML = "";
    list.hidden = !chosen.length;
    chosen.forEach(function (item, index) {
      const li = document.createElement("li");
      li.className = "photo-preview";
      li.draggable = true;
      li.setAttribute("data-name", item.file.name);
      const img = document.createElement("img");
      img.src = item.url;
      img.alt = "Photo " + (index + 1) + ": " + item.file.name;
      li.appendChild(img);
      const name = document.createElement("span");
      name.className = "photo-preview-name";
      name.textContent = (index + 1) + ". " + item.file.name;
      li.appendChild(name);
      const bar = document.createElement("progress");
      bar.max = 100;
      bar.value = item.progress;
      bar.hidden = item.progress === null;
      bar.setAttribute("aria-label", "Upload of photo " + (index + 1));
      item.bar = bar;
      li.appendChild(bar);
      const tools = document.createElement("span");
      tools.className = "photo-preview-tools";
      [["Move earlier", -1], ["Move later", 1], ["Remove", 0]].forEach(function (spec) {
        const target = index + spec[1];
        if (spec[1] && (target < 0 || target >= chosen.length)) return;
        const button = document.createElement("button");
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
        const from = parseInt(event.dataTransfer.getData("text/plain"), 10);
        if (!isNaN(from) && from !== index) move(from, index);
      });
      list.appendChild(li);
    });
  };
  const move = function (from, to) {
    const item = chosen.splice(from, 1)[0];
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
  let busy = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) return;
    busy = true;
    const button = $("sell-submit");
    if (button) button.setAttribute("aria-disabled", "true");
    const body = new FormData(form);
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
      const files = chosen.map(function (item) { return item.file; });
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
        const link = document.createElement("a");
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
  const top = document.createElement("div");
  top.className = "form-message js-error";
  top.setAttribute("role", "alert");
  top.textContent = answer.message || "The item could not be listed.";
  form.parentNode.insertBefore(top, form);
  let first = null;
  Object.keys(answer.errors || {}).forEach(function (name) {
    const field = form.querySelector('[name="' + name + '"]');
    if (!field) return;
    const text = document.createElement("p");
    text.className = "error-text js-error";
    text.id = name + "-js-error";
    text.textContent = answer.errors[name];
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-describedby", text.id);
    field.parentNode.appendChild(text);
    if (!first) first = field;
  });
  if (answer.idempotency_key) {
    const key = form.querySelector('[name="idempotency_key"]');
    if (key) key.value = answer.idempotency_key;
  }
  (first || top).scrollIntoView({ block: "center" });
  if (first) first.focus();
}
