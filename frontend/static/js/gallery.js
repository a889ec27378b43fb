/* Photos on the auction page: thumbnails swap the main photo; the main photo opens a zoomable
 * viewer. Without the script (or without <dialog>) each photo is a plain link. */

import { $ } from "./dom.js";

export function bindGallery() {
  const gallery = $("gallery");
  const main = $("gallery-main");
  const photo = $("gallery-photo");
  if (!gallery || !main || !photo) return;
  const thumbs = Array.prototype.slice.call(gallery.querySelectorAll(".gallery-thumb"));
  const photos = thumbs.length ? thumbs.map(function (thumb) {
    return { src: thumb.getAttribute("href"), alt: thumb.querySelector("img").alt,
             width: thumb.getAttribute("data-width"), height: thumb.getAttribute("data-height") };
  }) : [{ src: main.getAttribute("href"), alt: photo.alt, width: photo.getAttribute("width"),
          height: photo.getAttribute("height") }];
  let current = 0;
  const show = function (index) {
    current = (index + photos.length) % photos.length;
    const chosen = photos[current];
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
  let viewer = null;
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
  const self = this;
  this.photos = photos;
  this.index = 0;
  this.zoomed = false;
  const dialog = document.createElement("dialog");
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
  const single = photos.length < 2;
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
  let start = null;
  this.stage.addEventListener("pointerdown", function (event) {
    start = { x: event.clientX, y: event.clientY };
  });
  this.stage.addEventListener("pointercancel", function () { start = null; });
  this.stage.addEventListener("pointerup", function (event) {
    if (!start || self.zoomed) { start = null; return; }
    const dx = event.clientX - start.x;
    const dy = event.clientY - start.y;
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
  const count = this.photos.length;
  this.index = (index + count) % count;
  const chosen = this.photos[this.index];
  this.zoom(false);
  this.img.src = chosen.src;
  this.img.alt = chosen.alt;
  this.dialog.querySelector("#lightbox-count").textContent =
    "Photo " + (this.index + 1) + " of " + count;
};

PhotoViewer.prototype.zoom = function (on) {
  this.zoomed = Boolean(on);
  this.dialog.classList.toggle("is-zoomed", this.zoomed);
  const button = this.dialog.querySelector("#lightbox-zoom");
  button.setAttribute("aria-pressed", this.zoomed ? "true" : "false");
  button.textContent = this.zoomed ? "Zoom out" : "Zoom in";
};
