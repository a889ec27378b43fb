"""The product's "done when", in real browsers: a seller lists an item from the pages, two
bidders in two windows bid on it, both windows follow the auction live, and the outbid bidder
is told on the page, by email and in the app. Then the rest of the pages: a listing with a
reserve, Buy It Now and a photo, found by search, watched, whose history a window that missed
events (a gap, a dropped connection) catches up on, bought at once by one bidder.

Drives the system's Chromium (Debian's ``chromium``) with Playwright against the local
distributed shape (the ``stack`` fixture: nginx, gunicorn services, RabbitMQ, the SMTP sink).
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"Debian's chromium is not installed ({CHROMIUM} is missing)",
                allow_module_level=True)

from playwright.sync_api import (  # noqa: E402
    Browser,
    Page,
    WebSocketRoute,
    expect,
    sync_playwright,
)

from tests.support.api import Api  # noqa: E402

pytestmark = pytest.mark.browser

#: Headless, root in a container, no network beyond the local stack.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
#: How long a page may take to show what another window did (ms): the path is frontend ->
#: bidding_service -> outbox relay -> RabbitMQ -> Socket.IO server -> every watching page.
LIVE = 10_000
#: The outbid email goes through notification_service's worker and SMTP (ms).
MAIL = 20_000
SCREENSHOTS = Path("/tmp")


def reload_until_shown(page: Page, locator, text: str, timeout_ms: int) -> None:
    """Reload a server-rendered page until ``locator`` shows ``text`` (bounded polling)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        try:
            expect(locator.first).to_contain_text(text, timeout=1000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.reload()


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module; each person gets a context of their own."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Person:
    """Someone at their own browser window (own cookies), using the site's pages."""

    def __init__(self, page: Page, base_url: str, display_name: str):
        self.page, self.base_url, self.display_name = page, base_url, display_name
        self.email = f"{display_name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
        self.password = "correct horse battery"
        self.socket_events: list[str] = []
        page.on("websocket", self._listen)

    def _listen(self, websocket) -> None:
        """Records the names of the Socket.IO events this window receives over a websocket."""
        def received(payload) -> None:
            if isinstance(payload, str) and (found := re.match(r'42\["([^"]+)"', payload)):
                self.socket_events.append(found[1])
        websocket.on("framereceived", received)

    def go(self, path_or_url: str) -> None:
        """Open a page of the site (a path) or an address."""
        url = path_or_url if path_or_url.startswith("http") else self.base_url + path_or_url
        self.page.goto(url)

    def register(self) -> None:
        """Create an account on ``/register``; the site signs the person in."""
        self.go("/register")
        form = self.page.locator("#register-form")
        form.locator("[name=display_name]").fill(self.display_name)
        form.locator("[name=email]").fill(self.email)
        form.locator("[name=password]").fill(self.password)
        form.locator("#register-submit").click()
        expect(self.page.locator("#nav-user")).to_have_text(f"Hello {self.display_name}")

    def sell(self, title: str, starting_price: str, category: str = "Collectibles",
             minutes: int = 60, **terms: str) -> str:
        """List an item from the Sell page; returns the new auction page's URL. ``terms`` are
        more fields of the form by name (``reserve_price="50.00"``, ``condition="used"``)."""
        self.page.locator("#nav-sell").click()
        form = self.page.locator("#sell-form")
        form.locator("[name=title]").fill(title)
        form.locator("[name=description]").fill("A working brass telescope with its case.")
        form.locator("[name=category]").select_option(label=category)
        form.locator("[name=currency]").select_option("EUR")
        form.locator("[name=starting_price]").fill(starting_price)
        form.locator("[name=duration_minutes]").fill(str(minutes))
        for name, value in terms.items():
            field = form.locator(f"[name={name}]")
            if field.evaluate("el => el.tagName") == "SELECT":
                field.select_option(value)
            else:
                field.fill(value)
        form.locator("#sell-submit").click()
        expect(self.page).to_have_url(re.compile(r"/auctions/[0-9a-f-]{36}$"))
        expect(self.page.locator("#auction-title")).to_have_text(title)
        return self.page.url

    def watch(self, auction_url: str) -> None:
        """Open the auction page and wait until it is connected for live updates."""
        self.go(auction_url)
        expect(self.page.locator("#live-status")).to_have_text("Live", timeout=LIVE)
        # Marks this document: still there at the end means nothing reloaded the page.
        self.page.evaluate("window.sameDocument = true")

    def bid(self, amount: str) -> None:
        """Bid with the page's bid form (sent by the page's script, no reload)."""
        self.page.locator("#bid-amount").fill(amount)
        self.page.locator("#bid-submit").click()
        expect(self.page.locator("#bid-message")).to_contain_text(
            f"Your bid of EUR {amount} was placed", timeout=LIVE)

    def never_reloaded(self) -> bool:
        """True while the document opened by ``watch`` is still the one shown."""
        return self.page.evaluate("window.sameDocument === true")

    def sees_auction(self, price: str, min_next: str, bids: int | None = None) -> None:
        """The auction page shows these figures (waiting for them to arrive live)."""
        expect(self.page.locator("#price")).to_have_text(price, timeout=LIVE)
        expect(self.page.locator("#min-next-bid")).to_have_text(min_next, timeout=LIVE)
        if bids is not None:
            expect(self.page.locator("#bid-count")).to_have_text(str(bids), timeout=LIVE)

    def bid_count(self) -> int:
        """The number of bids the auction page shows now."""
        return int(self.page.locator("#bid-count").inner_text())

    def history(self) -> list[str]:
        """The bid history panel's lines, newest first, as one string each."""
        return [" ".join(text.split())
                for text in self.page.locator("#history-lines li").all_inner_texts()]

    def sees_history(self, *lines: str) -> None:
        """The history panel shows these lines, newest first (waiting for them live)."""
        expect(self.page.locator("#history-lines li")).to_have_count(len(lines), timeout=LIVE)
        for index, text in enumerate(lines):
            expect(self.page.locator("#history-lines li").nth(index)).to_contain_text(
                text, timeout=LIVE)


class LiveLine:
    """Sits on a window's Socket.IO connection: can drop the next few events of a kind (a gap
    in the seq numbers), hold every event back (a silent connection), and cut the connection
    (the client reconnects on its own)."""

    def __init__(self, page: Page):
        self.drop = {}
        self.dropped: list[str] = []
        self.muted = False
        self.routes: list[tuple[WebSocketRoute, WebSocketRoute]] = []
        page.route_web_socket(re.compile(r"/socket\.io/"), self._connect)

    def _connect(self, page_side: WebSocketRoute) -> None:
        server_side = page_side.connect_to_server()
        self.routes.append((page_side, server_side))

        def from_server(message) -> None:
            found = isinstance(message, str) and re.match(r'42\["([^"]+)"', message)
            if found and (self.muted or self.drop.get(found[1])):
                if not self.muted:
                    self.drop[found[1]] -= 1
                self.dropped.append(found[1])
                return
            page_side.send(message)

        server_side.on_message(from_server)

    def wait_until_dropped(self, page: Page, count: int) -> None:
        """Wait until ``count`` events were kept from the window. The route's handlers run
        while Playwright is called, so the wait goes through the page, not ``time.sleep``."""
        deadline = time.monotonic() + LIVE / 1000
        while len(self.dropped) < count:
            assert time.monotonic() < deadline, f"only {self.dropped} were dropped"
            page.wait_for_timeout(50)

    def cut(self) -> None:
        """Close the live connection; events flow again on the next one."""
        for page_side, server_side in self.routes:
            page_side.close()
            server_side.close()
        self.routes.clear()
        self.muted = False


@pytest.fixture
def window(browser: Browser, stack):
    """Opens a new browser window (context) for a person; prints their console on teardown,
    which pytest shows when the test failed."""
    contexts, consoles = [], {}

    def open_window(display_name: str) -> Person:
        context = browser.new_context(base_url=stack.url, viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        log = consoles.setdefault(display_name, [])
        page.on("console", lambda message: log.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: log.append(f"pageerror: {error}"))
        page.on("response", lambda response: response.status >= 400 and log.append(
            f"http {response.status}: {response.request.method} {response.url}"))
        page.on("requestfailed", lambda request: log.append(
            f"failed: {request.method} {request.url} ({request.failure})"))
        return Person(page, stack.url, display_name)

    yield open_window
    for name, log in consoles.items():
        print(f"--- {name}'s browser console ({len(log)} messages)")
        print("\n".join(log))
    for context in contexts:
        context.close()


def test_two_bidders_in_two_windows_follow_the_auction_live_and_the_outbid_one_is_told(window):
    seller = window("Sally")
    seller.register()
    auction_url = seller.sell("Brass telescope", starting_price="25.00")
    seller.sees_auction(price="EUR 25.00", min_next="EUR 25.00", bids=0)

    alice, bob = window("Alice"), window("Bob")
    for bidder in (alice, bob):
        bidder.register()
        bidder.watch(auction_url)
        bidder.sees_auction(price="EUR 25.00", min_next="EUR 25.00", bids=0)
        expect(bidder.page.locator("#outbid-banner")).to_be_hidden()

    # How many history lines a bid adds (one, or two when a proxy maximum answers it) is
    # bidding_service's rule; here the windows must count up and agree. The watcher's window is
    # read first: it learns everything from one live update, the bidder's own window takes the
    # price from the bid's answer and the count from the update.
    alice.bid("30.00")  # her maximum opens the bidding at the starting price (proxy bidding)
    bob.sees_auction(price="EUR 25.00", min_next="EUR 26.00")
    bids_after_alice = bob.bid_count()
    assert bids_after_alice >= 1
    alice.sees_auction(price="EUR 25.00", min_next="EUR 26.00", bids=bids_after_alice)
    expect(alice.page.locator("#leader")).to_have_text("You are the highest bidder")
    expect(bob.page.locator("#leader")).to_be_hidden()

    bob.bid("50.00")  # beats her maximum: the price becomes her maximum plus one increment
    alice.sees_auction(price="EUR 31.00", min_next="EUR 32.00")
    bids_after_bob = alice.bid_count()
    assert bids_after_bob > bids_after_alice
    bob.sees_auction(price="EUR 31.00", min_next="EUR 32.00", bids=bids_after_bob)
    expect(bob.page.locator("#leader")).to_be_visible()
    expect(alice.page.locator("#leader")).to_be_hidden()
    expect(alice.page.locator("#outbid-banner")).to_be_visible(timeout=LIVE)
    expect(alice.page.locator("#outbid-banner")).to_contain_text("You have been outbid")
    expect(alice.page.locator("#bid-message")).not_to_contain_text("highest bidder")
    expect(bob.page.locator("#outbid-banner")).to_be_hidden()
    assert alice.never_reloaded() and bob.never_reloaded(), "the pages updated by reloading"
    assert bob.socket_events.count("bid.placed") >= 2, bob.socket_events  # over the websocket
    assert "bid.outbid" in alice.socket_events and "bid.outbid" not in bob.socket_events
    for bidder in (alice, bob):
        bidder.page.screenshot(path=SCREENSHOTS / f"browser-auction-{bidder.display_name}.png",
                               full_page=True, animations="disabled")

    alice.go("/mailbox")  # the development mailbox: not in the product's menu
    outbid_mail = alice.page.locator("article.mail").filter(has_text=alice.email)
    reload_until_shown(alice.page, outbid_mail, "You have been outbid on Brass telescope", MAIL)

    alice.go("/me/notifications")  # the mailbox is the SMTP sink's page: no site navigation
    outbid_note = alice.page.locator("#notifications .notification[data-kind=outbid]")
    reload_until_shown(alice.page, outbid_note, "You have been outbid on Brass telescope", LIVE)
    expect(outbid_note.first).to_contain_text("The price is now EUR 31.00")


def photo(folder: Path) -> Path:
    """A small PNG, as a seller's camera would give (any size works: the catalog resizes)."""
    from PIL import Image

    path = folder / "tin-drum.png"
    Image.new("RGB", (640, 480), (180, 40, 40)).save(path)
    return path


def test_a_reserve_and_buy_it_now_listing_whose_history_every_window_catches_up_on(
        window, stack, tmp_path):
    # The seller lists with a hidden reserve and a Buy-It-Now price, then adds a photo.
    word = f"drum{uuid.uuid4().hex[:6]}"
    seller = window("Sam")
    seller.register()
    auction_url = seller.sell(f"Tin {word}", starting_price="20.00", condition="used",
                              reserve_price="50.00", buy_now_price="90.00")
    auction_id = auction_url.rsplit("/", 1)[1]
    expect(seller.page.locator("#flashes")).to_contain_text("Add photos")
    seller.page.locator("#photo-file").set_input_files(photo(tmp_path))
    seller.page.locator("#photo-submit").click()
    # The page reloads with the photo, which the gateway serves from the media folder.
    image = seller.page.locator("#gallery img").first
    expect(image).to_have_attribute(
        "src", re.compile(rf"^/media/auctions/{auction_id}/.+_display\.webp$"), timeout=LIVE)
    served = seller.page.request.get(image.get_attribute("src"))
    assert served.status == 200 and served.headers["content-type"] == "image/webp"
    expect(seller.page.locator("#reserve-price")).to_contain_text("EUR 50.00")

    # A bidder finds it by searching, watches it; his connection will miss events.
    carol, dave = window("Carol"), window("Dave")
    dave_line = LiveLine(dave.page)
    for bidder in (carol, dave):
        bidder.register()
    dave.go("/")
    dave.page.locator("#search-q").fill(word)
    dave.page.locator("#search-submit").click()
    card = dave.page.locator(f".auction-card[data-auction-id='{auction_id}']")
    expect(card).to_contain_text("Buy It Now EUR 90.00")
    expect(card).to_contain_text("Reserve not met")
    expect(dave.page.locator("#auction-list .auction-card")).to_have_count(1)
    card.locator(".card-title a").click()
    dave.page.locator("#watch-toggle").click()
    expect(dave.page.locator("#watch-toggle")).to_have_text("Watching ✓ — stop")

    seller.watch(auction_url)
    for bidder in (carol, dave):
        bidder.watch(auction_url)
        expect(bidder.page.locator("#reserve-status")).to_have_text("Reserve not met")
        expect(bidder.page.locator("#buy-now-submit")).to_contain_text("EUR 90.00")
        expect(bidder.page.locator("#history-empty")).to_be_visible()

    # Dave's window misses the first bid.placed: the next one shows a gap in the seq
    # numbers, and the window fetches the history since the last number it had.
    dave_line.drop["bid.placed"] = 1
    carol.bid("30.00")
    carol.sees_history("C***l EUR 20.00")
    dave_line.wait_until_dropped(dave.page, 1)
    assert dave_line.dropped == ["bid.placed"]
    erin = Api(stack.url).register("Erin")
    assert erin.bid(auction_id, 3500).status_code == 201  # Carol's maximum answers at once
    for person in (carol, dave, seller):
        person.sees_history("E***n EUR 31.00", "C***l EUR 30.00 automatic", "C***l EUR 20.00")
        person.sees_auction(price="EUR 31.00", min_next="EUR 32.00", bids=3)
    expect(dave.page.locator("#reserve-status")).to_have_text("Reserve not met")
    expect(dave.page.locator("#buy-now")).to_be_visible()  # until the reserve is met

    # A silent connection, then a dropped one: the reconnected window catches up.
    dave_line.muted = True
    carol.bid("45.00")
    dave_line.wait_until_dropped(dave.page, 2)
    expect(dave.page.locator("#price")).to_have_text("EUR 31.00")
    dave_line.cut()
    dave.sees_history("C***l EUR 36.00", "E***n EUR 35.00 automatic", "E***n EUR 31.00",
                      "C***l EUR 30.00 automatic", "C***l EUR 20.00")
    dave.sees_auction(price="EUR 36.00", min_next="EUR 37.00", bids=5)
    expect(dave.page.locator("#live-status")).to_have_text("Live", timeout=LIVE)

    # Dave buys it now (a second press confirms): every window learns how it ended.
    dave.page.locator("#buy-now-submit").click()
    expect(dave.page.locator("#buy-now-submit")).to_contain_text("Confirm")
    dave.page.locator("#buy-now-submit").click()
    expect(dave.page.locator("#bid-message")).to_have_text(
        "You bought this item for EUR 90.00.", timeout=LIVE)
    expect(dave.page.locator("#outcome")).to_have_text("You won this auction for EUR 90.00.")
    expect(carol.page.locator("#outcome")).to_have_text(
        "This auction has ended: sold for EUR 90.00.", timeout=LIVE)
    expect(seller.page.locator("#outcome")).to_have_text(
        "Your item sold for EUR 90.00.", timeout=LIVE)
    for person in (carol, dave, seller):
        expect(person.page.locator("#price")).to_have_text("EUR 90.00", timeout=LIVE)
        expect(person.page.locator("#bid-count")).to_have_text("6", timeout=LIVE)
        expect(person.page.locator("#reserve-status")).to_have_text("Reserve met")
        expect(person.page.locator("#auction-status")).to_have_text("ended", timeout=LIVE)
        expect(person.page.locator("#bidding")).to_be_hidden()
        expect(person.page.locator("#history-lines li").first).to_contain_text(
            "D***e EUR 90.00", timeout=LIVE)
    for person in (carol, dave):
        person.page.screenshot(path=SCREENSHOTS / f"browser-buy-now-{person.display_name}.png",
                               full_page=True, animations="disabled")

    # The pages of one's own: won, lost, watching, sold.
    dave.page.locator("#nav-my-bids").click()
    expect(dave.page.locator(f"#my-bids tr[data-auction-id='{auction_id}']")).to_contain_text(
        "Won")
    carol.page.locator("#nav-my-bids").click()
    expect(carol.page.locator(f"#my-bids tr[data-auction-id='{auction_id}']")).to_contain_text(
        "Lost")
    dave.page.locator("#nav-watching").click()
    expect(dave.page.locator(f"#watch-list [data-auction-id='{auction_id}']")).to_be_visible()
    seller.page.locator("#nav-my-listings").click()
    listing = seller.page.locator(f"#my-listings tr[data-auction-id='{auction_id}']")
    reload_until_shown(seller.page, listing, "ended", LIVE)


def test_a_late_bid_moves_every_countdown_and_the_page_says_how_the_auction_ended(
        window, stack):
    api = Api(stack.url)
    seller, erin = api.register("Sam"), api.register("Erin")
    carol = window("Carol")
    carol.register()
    # Every bid falls inside the last ten seconds: each one moves the end.
    auction = seller.create_auction(seconds=8, title="Clockwork mouse", starting_price=1000,
                                    reserve_price=5000, anti_sniping_seconds=10)
    api.wait_until_biddable(auction["id"])
    carol.watch(f"/auctions/{auction['id']}")
    first_end = datetime.fromisoformat(carol.page.locator("#ends-at").get_attribute("datetime"))

    assert erin.bid(auction["id"], 2000).status_code == 201
    expect(carol.page.locator("#toasts")).to_contain_text("Auction extended", timeout=LIVE)
    moved = datetime.fromisoformat(carol.page.locator("#ends-at").get_attribute("datetime"))
    assert moved > first_end
    expect(carol.page.locator("#leader-name")).to_have_text("E***n")
    expect(carol.page.locator("#reserve-status")).to_have_text("Reserve not met")

    expect(carol.page.locator("#outcome")).to_have_text(
        "This auction has ended: the reserve was not met.", timeout=3 * LIVE)
    expect(carol.page.locator("#auction-status")).to_have_text("ended")
    expect(carol.page.locator("#countdown")).to_have_text("ended")
    expect(carol.page.locator("#bidding")).to_be_hidden()
