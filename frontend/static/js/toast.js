/* Toasts: news that is not about what the page shows (a notice, an outbid elsewhere). */

import { $ } from "./dom.js";

export function toast(title, body, href) {
  const box = $("toasts");
  if (!box) return;
  const item = document.createElement("div");
  item.className = "toast";
  item.setAttribute("role", "status");
  const strong = document.createElement("strong");
  strong.textContent = title || "Notification";
  item.appendChild(strong);
  if (body) {
    const text = document.createElement("span");
    text.textContent = body;
    item.appendChild(text);
  }
  if (href) {
    const link = document.createElement("a");
    link.href = href;
    link.textContent = " View";
    item.appendChild(link);
  }
  item.addEventListener("click", function (event) {
    if (event.target.tagName !== "A") item.remove();
  });
  box.appendChild(item);
  window.setTimeout(function () { item.remove(); }, 8000);
}
