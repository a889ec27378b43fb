/* The menu's unread badge, and a sale's contact arriving while its auction's page is open. */

import { $ } from "./dom.js";

export const unreadBadge = {
  show: function (count) {
    const badge = $("unread-badge");
    if (!badge) return;
    badge.textContent = String(Math.max(0, count));
    badge.hidden = count <= 0;
  },
  load: function () {
    const link = $("nav-notifications");
    if (!link || !window.fetch) return;
    const self = this;
    const asked = this.asked = (this.asked || 0) + 1;  // only the latest answer counts
    fetch(link.getAttribute("data-unread-url"), {
      credentials: "same-origin", headers: { Accept: "application/json" }
    }).then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body && typeof body.count === "number" && asked === self.asked) self.show(body.count);
      })
      .catch(function () { return null; });
  }
};

/** A won / sold notice for the auction on screen carries the other party's contact. */
export function showSaleContact(page, event) {
  const data = event.data || {};
  const party = data.seller || data.buyer;
  if (!page || !party || data.auction_id !== page.id || $("sale-contact")) return;
  const box = document.createElement("section");
  box.className = "sale-contact card";
  box.id = "sale-contact";
  const heading = document.createElement("h2");
  heading.textContent = data.seller ? "The seller" : "The buyer";
  const contact = document.createElement("p");
  contact.className = "contact";
  const name = document.createElement("strong");
  name.id = "counterpart-name";
  name.textContent = party.display_name || "";
  contact.appendChild(name);
  if (party.email) {
    const mail = document.createElement("a");
    mail.id = "counterpart-email";
    mail.href = "mailto:" + party.email;
    mail.textContent = party.email;
    contact.appendChild(document.createTextNode(" "));
    contact.appendChild(mail);
  }
  const next = document.createElement("p");
  next.className = "next-step";
  next.id = "next-step";
  next.textContent = data.seller ? "Contact the seller to arrange payment and delivery." : "";
  box.appendChild(heading);
  box.appendChild(contact);
  if (next.textContent) box.appendChild(next);
  const anchor = data.seller ? $("outcome") : $("seller-tools");
  if (anchor && data.seller) anchor.parentNode.insertBefore(box, anchor.nextSibling);
  else if (anchor) anchor.appendChild(box);
}
