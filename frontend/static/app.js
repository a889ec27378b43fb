/* Open Auction: live countdowns, bidding and Buy It Now without reloads, live updates and the
 * bid history over Socket.IO, photo uploads one at a time.
 *
 * Everything works without this script (plain forms and server-rendered figures); the script
 * only makes it live. It never sees the access token: the Socket.IO server reads the HttpOnly
 * cookie, and the page asks the frontend (not the API) for state.
 *
 * An ES module (no build step): each part of the page is a module under js/, and the rules
 * they show (sequence and gaps, money and times, Buy It Now, how an auction ended) are pure
 * modules without DOM access, tested by `node --test` (tests/frontend/js/).
 */
import { AuctionPage } from "./js/auction_page.js";
import { clock } from "./js/clock.js";
import { $, pageResponseTime } from "./js/dom.js";
import { bindGallery } from "./js/gallery.js";
import { connectLive } from "./js/live.js";
import { bindMenu } from "./js/menu.js";
import { unreadBadge } from "./js/notifications.js";
import { refreshTimes, tickListCountdowns } from "./js/page_times.js";
import { bindPhotoForm } from "./js/photos.js";
import { listingRows } from "./js/listing_rows.js";
import { bindSellForm } from "./js/sell_form.js";

function start() {
  const body = document.body;
  clock.sample(body.getAttribute("data-server-time"), pageResponseTime());
  const root = $("auction");
  let page = null;
  if (root) {
    page = new AuctionPage(root, body.getAttribute("data-user-id"));
    page.start();
  }
  tickListCountdowns();
  refreshTimes();
  window.setInterval(refreshTimes, 1000);
  bindMenu();
  bindGallery();
  bindPhotoForm();
  unreadBadge.load();
  bindSellForm();
  if (body.getAttribute("data-live") === "on") connectLive(page, listingRows(document));
}

// A module runs once the document is parsed (like a deferred script), after the classic
// socket.io script that precedes it; the check is for a page that loads it some other way.
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
