/* Photos added to a listing, one request per photo (the gateway takes 12 MB at most per
 * request), with their progress: on the auction and Edit pages ("Add photos"), and after the
 * Sell form has listed the item. Without the script the form posts them all at once. */

import { $, csrfToken } from "./dom.js";

/** Send one photo to a photos URL, reporting progress (0..1); resolves to
 *  {added, problems} whatever happened. */
function uploadPhoto(url, file, onProgress) {
  return new Promise(function (resolve) {
    const body = new FormData();
    body.append("csrf_token", csrfToken());
    body.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
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
      let answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = {}; }
      const problems = answer.problems && answer.problems.length ? answer.problems
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
export function uploadPhotos(url, files, progress) {
  let added = 0;
  let problems = [];
  const sendNext = function (index) {
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
export function bindPhotoForm() {
  const form = $("photo-form");
  const input = $("photo-file");
  if (!form || !input || !window.FormData) return;
  form.addEventListener("submit", function (event) {
    const files = Array.prototype.slice.call(input.files || []);
    if (!files.length) return; // the browser says the field is required
    event.preventDefault();
    const message = $("photo-message");
    const button = $("photo-submit");
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
