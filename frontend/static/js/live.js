/* Live updates over Socket.IO: the auction's room for the page on screen, the user's own
 * room for private news. The socket.io client is a classic script loaded before this module
 * (it sets the global ``io``); without it, or without the script, pages are plain pages. */

import { $ } from "./dom.js";
import { showSaleContact, unreadBadge } from "./notifications.js";
import { toast } from "./toast.js";

function setLiveStatus(connected) {
  const el = $("live-status");
  if (!el) return;
  el.hidden = false;
  el.textContent = connected ? "Live" : "Reconnecting…";
  el.classList.toggle("is-live", connected);
}

/** Connect; `page` is the auction page on screen (or null), `rows` a seller's live table of
 *  listings (listing_rows.js, or null). */
export function connectLive(page, rows) {
  if (typeof window.io !== "function") return null;
  const socket = window.io({ transports: ["websocket", "polling"] });

  socket.on("connect", function () {
    setLiveStatus(true);
    if (rows) {
      // Into every row's room, then catch up on what happened before we were in them.
      let joined = 0;
      rows.ids.forEach(function (id) {
        socket.timeout(3000).emit("watch", { auction_id: id }, function () {
          joined += 1;
          if (joined === rows.ids.length) rows.refetch();
        });
      });
    }
    if (!page) return;
    // Join the auction's room, then catch up on whatever happened before we were in it.
    socket.timeout(3000).emit("watch", { auction_id: page.id }, function () {
      page.refetch();
      page.history.schedule(0);
    });
  });
  socket.on("disconnect", function () {
    setLiveStatus(false);
    // Reconnecting sends the access token cookie again: a state request first lets the
    // frontend refresh it if it has expired meanwhile.
    if (page) page.refetch();
  });

  // The server lost its feed of events for a moment (a broker reconnect): catch up as after
  // a reconnect of our own.
  socket.on("resync", function () {
    if (rows) rows.refetch();
    if (!page) return;
    page.refetch();
    page.history.schedule(0);
  });

  if (page) {
    socket.on("bid.placed", function (event) { page.onBidPlaced(event || {}); });
    socket.on("auction.extended", function (event) { page.onExtended(event || {}); });
    socket.on("auction.ended", function (event) { page.onEnded(event || {}); });
    socket.on("auction.watchers", function (event) { page.onWatchers(event || {}); });
  }
  if (rows) {
    socket.on("bid.placed", function (event) { rows.onBidPlaced(event || {}); });
    socket.on("auction.watchers", function (event) { rows.onWatchers(event || {}); });
    socket.on("auction.extended", function (event) { rows.onExtended(event || {}); });
  }
  socket.on("bid.outbid", function (event) {
    event = event || {};
    if (page && page.onOutbid(event)) return;
    toast("You have been outbid", event.title || "", event.auction_id
      ? "/auctions/" + encodeURIComponent(event.auction_id) : null);
  });
  socket.on("notification", function (event) {
    event = event || {};
    unreadBadge.load();  // the server's count: never counts a notice twice
    showSaleContact(page, event);
    const auctionId = event.data && event.data.auction_id;
    // On the auction's own page the outbid banner says it, with the newest price.
    if (page && event.kind === "outbid" && String(auctionId) === page.id) return;
    toast(event.title, event.body, auctionId ? "/auctions/" + encodeURIComponent(auctionId) : null);
  });
  // The access token the socket connected with has expired: reconnect with a fresh one (the
  // disconnect handler's state request lets the frontend refresh the cookie first).
  socket.on("session.expired", function (event) {
    if (event && event.reason === "token_expired") {
      socket.disconnect();
      window.setTimeout(function () { socket.connect(); }, 1000);
    }
  });
  return socket;
}
