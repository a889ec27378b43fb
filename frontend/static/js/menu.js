/* The menu: folds behind a button on narrow screens (without the script it stays unfolded). */

import { $ } from "./dom.js";

export function bindMenu() {
  const button = $("menu-toggle");
  const nav = $("main-nav");
  if (!button || !nav) return;
  const header = button.closest(".site-header");
  if (header) header.classList.add("has-menu-toggle");
  button.hidden = false;
  const setOpen = function (open) {
    nav.classList.toggle("is-open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  };
  button.addEventListener("click", function () {
    setOpen(button.getAttribute("aria-expanded") !== "true");
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
      setOpen(false);
      button.focus();
    }
  });
}
