"""The pages a person uses on a phone (390×844) and a desktop (1366×900), in a real browser:
the menu folds on a phone and the bid form comes right after the title and photo; banners
always say the newest state and an ended auction only its outcome; the photo viewer; one way
of saying a time; selling with dates and photos; browsing with filters, a count and a
previous page; accessibility (axe-core on every page, skip link, focus ring). The tests also
take the README's screenshots (``docs/screenshots/``).

Same stack and Chromium as ``test_browser.py`` (one browser for the module).
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.api import Api, User
from tests.support.waiting import wait_for
from tests.system.test_browser import (  # skips without Chromium
    CHROMIUM,
    CHROMIUM_ARGS,
    LIVE,
    MAIL,
    LiveLine,
)

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
#: axe-core's impacts that fail a page.
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def api(stack) -> Api:
    """The platform's API behind the gateway."""
    return Api(stack.url)


@pytest.fixture
def open_page(browser: Browser, stack):
    """Opens a page in a new window: ``open_page(PHONE, user=…, timezone=…)``, signed in as
    ``user`` when given; prints the windows' consoles on teardown (shown when a test fails)."""
    contexts, log = [], []

    def open_(viewport=DESKTOP, user: User | None = None, timezone: str = "UTC") -> Page:
        context = browser.new_context(base_url=stack.url, viewport=viewport,
                                      timezone_id=timezone, locale="en-GB",
                                      has_touch=viewport is PHONE)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: log.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: log.append(f"pageerror: {error}"))
        if user is not None:
            sign_in(page, user)
        return page

    yield open_
    print("\n".join(log))
    for context in contexts:
        context.close()


def sign_in(page: Page, user: User) -> None:
    """Sign in on the login page."""
    page.goto("/login")
    form = page.locator("#login-form")
    form.locator("[name=email]").fill(user.email)
    form.locator("[name=password]").fill(user.password)
    form.locator("#login-submit").click()
    expect(page.locator("#nav-user")).to_contain_text(user.display_name)


def photo(folder: Path, name: str, colour: tuple[int, int, int]) -> Path:
    """A PNG of one colour, as a seller's camera would give."""
    from PIL import Image

    path = folder / name
    Image.new("RGB", (640, 480), colour).save(path)
    return path


def add_photos(user: User, auction_id: str, paths: list[Path]) -> None:
    """Add photos to a listing through the API, in this order."""
    for path in paths:
        with path.open("rb") as handle:
            response = user.api.post(f"/api/auctions/{auction_id}/images",
                                     files={"file": (path.name, handle, "image/png")},
                                     headers=user.headers)
        assert response.status_code == 201, response.text


def axe_violations(page: Page) -> list[str]:
    """The page's serious and critical accessibility violations, by axe-core (installed from
    npm with the other browser libraries, served from this origin as the CSP asks)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(url="/static/vendor/axe.min.js")
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map(v => ({id: v.id, impact: v.impact,
            nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}));
    }""")
    return [f"{v['impact']} {v['id']}: {v['nodes']}" for v in found if v["impact"] in BLOCKING]


def screenshot(page: Page, name: str) -> None:
    """Save a screenshot for the README (``docs/screenshots/<name>.png``)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", animations="disabled")


def top(page: Page, selector: str) -> float:
    """Where an element starts, from the top of the page (px)."""
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    return box["y"] + page.evaluate("window.scrollY")


@pytest.fixture(scope="module")
def people(api: Api):
    """A seller and two bidders with accounts."""
    return {"seller": api.register("Sally"), "alice": api.register("Alice"),
            "bob": api.register("Bob")}


@pytest.fixture(scope="module")
def telescope(api: Api, people, tmp_path_factory) -> dict:
    """A live listing with three photos (red, green, blue) and a long description."""
    folder = tmp_path_factory.mktemp("photos")
    auction = people["seller"].create_auction(
        seconds=3 * 3600, title="Brass telescope", starting_price=2500, condition="used",
        description="A working brass telescope with its case.\n" * 30)
    add_photos(people["seller"], auction["id"], [
        photo(folder, "red.png", (200, 30, 30)), photo(folder, "green.png", (30, 160, 60)),
        photo(folder, "blue.png", (40, 60, 200))])
    api.wait_until_biddable(auction["id"])
    return auction


# -- 1. phone layout, 9. the mailbox is not in the menu --------------------------------------


def test_on_a_phone_the_menu_folds_behind_a_button_and_the_mailbox_is_not_in_it(
        open_page, people):
    page = open_page(PHONE, user=people["alice"])
    page.goto("/")
    toggle = page.locator("#menu-toggle")
    expect(toggle).to_be_visible()
    expect(page.locator("#nav-sell")).to_be_hidden()
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#nav-sell")).to_be_visible()
    expect(page.locator("#nav-my-bids")).to_be_visible()
    expect(page.locator("a[href='/mailbox']")).to_have_count(0)
    screenshot(page, "phone-menu")
    page.keyboard.press("Escape")
    expect(page.locator("#nav-sell")).to_be_hidden()

    desktop = open_page(DESKTOP)
    desktop.goto("/")
    expect(desktop.locator("#menu-toggle")).to_be_hidden()
    expect(desktop.locator("#nav-sell")).to_be_visible()
    expect(desktop.locator("a[href='/mailbox']")).to_have_count(0)


def test_on_a_phone_price_time_left_and_the_bid_form_follow_the_title_and_main_photo(
        open_page, people, telescope):
    page = open_page(PHONE, user=people["alice"])
    page.goto(f"/auctions/{telescope['id']}")
    photo_bottom = top(page, "#gallery-photo") + page.locator("#gallery-photo").bounding_box()[
        "height"]
    assert top(page, "#auction-title") < top(page, "#gallery-photo")
    assert photo_bottom <= top(page, "#price") < PHONE["height"], "the price is off the screen"
    assert top(page, "#countdown") < top(page, "#bid-submit") < top(page, "#description")
    assert top(page, "#bid-submit") < top(page, "#bid-history")
    screenshot(page, "phone-auction")


# -- 3. photos --------------------------------------------------------------------------------


def test_thumbnails_swap_the_main_photo_and_the_main_photo_opens_a_zoomable_viewer(
        open_page, telescope):
    page = open_page(DESKTOP)
    page.goto(f"/auctions/{telescope['id']}")
    address = page.url
    thumbs = page.locator("#gallery .gallery-thumb")
    expect(thumbs).to_have_count(3)
    second = thumbs.nth(1).get_attribute("href")
    thumbs.nth(1).click()
    expect(page.locator("#gallery-photo")).to_have_attribute("src", second)
    assert page.url == address, "a thumbnail left the page for the raw image"

    page.locator("#gallery-main").click()
    viewer = page.locator("#lightbox")
    expect(viewer).to_be_visible()
    expect(viewer.locator("#lightbox-count")).to_have_text("Photo 2 of 3")
    page.keyboard.press("ArrowRight")
    expect(viewer.locator("#lightbox-count")).to_have_text("Photo 3 of 3")
    viewer.locator("#lightbox-next").click()
    expect(viewer.locator("#lightbox-count")).to_have_text("Photo 1 of 3")
    viewer.locator("#lightbox-prev").click()
    expect(viewer.locator("#lightbox-count")).to_have_text("Photo 3 of 3")
    viewer.locator("#lightbox-zoom").click()
    expect(viewer.locator("#lightbox-zoom")).to_have_attribute("aria-pressed", "true")
    zoomed = viewer.locator("#lightbox-photo").bounding_box()
    assert zoomed["width"] > DESKTOP["width"], "zooming in did not enlarge the photo"
    page.keyboard.press("-")
    expect(viewer.locator("#lightbox-zoom")).to_have_attribute("aria-pressed", "false")
    screenshot(page, "desktop-photo-viewer")
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    assert page.url == address

    phone = open_page(PHONE)
    phone.goto(f"/auctions/{telescope['id']}")
    phone.locator("#gallery-main").click()
    stage = phone.locator("#lightbox-stage").bounding_box()
    y = stage["y"] + stage["height"] / 2
    # A swipe to the left shows the next photo (pointer events, as a finger sends them).
    phone.mouse.move(stage["x"] + stage["width"] * 0.8, y)
    phone.mouse.down()
    phone.mouse.move(stage["x"] + stage["width"] * 0.2, y, steps=5)
    phone.mouse.up()
    expect(phone.locator("#lightbox-count")).to_have_text("Photo 2 of 3")


# -- 5. bidding context, 2. banners that say the newest state ------------------------------


def test_a_bidder_sees_their_maximum_their_lines_the_seller_and_a_banner_that_keeps_up(
        open_page, api, people):
    seller, alice, bob = people["seller"], people["alice"], people["bob"]
    auction = seller.create_auction(seconds=3600, title="Clockwork mouse", starting_price=2000)
    api.wait_until_biddable(auction["id"])
    page = open_page(DESKTOP, user=alice)
    frames: list[str] = []
    page.on("websocket", lambda socket: socket.on(
        "framereceived", lambda payload: isinstance(payload, str) and frames.append(payload)))
    page.goto(f"/auctions/{auction['id']}")
    expect(page.locator("#live-status")).to_have_text("Live", timeout=LIVE)
    expect(page.locator("#seller-name")).to_have_text("Sally")
    expect(page.locator("#your-max")).to_be_hidden()

    page.locator("#bid-amount").fill("50.00")
    page.locator("#bid-submit").click()
    message = page.locator("#bid-message")
    expect(message).to_contain_text("Your bid of EUR 50.00 was placed", timeout=LIVE)
    # The answer sits right under the field, and the focus stays where the bidder was.
    field = page.locator("#bid-amount").bounding_box()
    assert 0 <= message.bounding_box()["y"] - (field["y"] + field["height"]) < 40
    assert page.evaluate("document.activeElement.id") in ("bid-submit", "bid-amount")
    expect(page.locator("#your-max")).to_have_text("Your maximum: EUR 50.00")
    expect(page.locator("#history-lines li").first).to_contain_text("you", timeout=LIVE)
    page.reload()
    expect(page.locator("#your-max")).to_have_text("Your maximum: EUR 50.00")
    expect(page.locator("#history-lines li .tag-you")).to_have_count(1)
    expect(page.locator("#live-status")).to_have_text("Live", timeout=LIVE)

    # Outbid, then outbid further: the banner always says the price the page shows.
    assert bob.bid(auction["id"], 6000).status_code == 201
    banner = page.locator("#outbid-banner")
    expect(banner).to_contain_text("the price is now EUR 51.00", timeout=LIVE)
    expect(page.locator("#price")).to_have_text("EUR 51.00")
    expect(page.locator("#leader")).to_be_hidden()
    carol = api.register("Carol")
    assert carol.bid(auction["id"], 8000).status_code == 201
    expect(page.locator("#price")).to_have_text("EUR 61.00", timeout=LIVE)
    expect(banner).to_contain_text("the price is now EUR 61.00")
    expect(banner).to_contain_text("Bid at least EUR 62.00")
    # The in-app notice arrives too: on this page the banner says it, not a toast whose
    # figures were right when it was written.
    deadline = time.monotonic() + MAIL / 1000
    while not any(frame.startswith('42["notification"') for frame in frames):
        assert time.monotonic() < deadline, "no in-app notification reached the page"
        page.wait_for_timeout(100)
    expect(page.locator("#toasts")).not_to_contain_text("outbid")
    expect(page.locator("#history-lines li")).to_have_count(5, timeout=LIVE)
    # Hers: her bid and the automatic line her maximum placed against Bob's.
    expect(page.locator("#history-lines li.is-yours")).to_have_count(2)
    screenshot(page, "desktop-auction")


def test_the_watcher_count_follows_watches_and_unwatches_live(open_page, api, people):
    seller, bob = people["seller"], people["bob"]
    auction = seller.create_auction(seconds=3600, title="Pocket watch", starting_price=1500)
    api.wait_until_biddable(auction["id"])
    page = open_page(DESKTOP)  # anyone may see how many watch, nobody who
    line = LiveLine(page)
    page.goto(f"/auctions/{auction['id']}")
    expect(page.locator("#live-status")).to_have_text("Live", timeout=LIVE)
    count = page.locator("#watchers-count")
    expect(count).to_have_text("0")
    watch_url = f"{api.base_url}/api/auctions/{auction['id']}/watch"
    carol = api.register("Carol")
    for user in (bob, carol):
        assert api.session.put(watch_url, headers=user.headers, timeout=30).status_code == 200
    expect(count).to_have_text("2", timeout=LIVE)
    assert api.session.delete(watch_url, headers=bob.headers, timeout=30).status_code == 200
    expect(count).to_have_text("1", timeout=LIVE)
    # The page fetches the state (with the count) once it is in the room: wait for that, so
    # that the unwatch below can only reach it live or by the reconnect.
    with page.expect_response(lambda answer: "state.json" in answer.url, timeout=LIVE):
        page.reload()
    expect(count).to_have_text("1")
    expect(page.locator("#live-status")).to_have_text("Live", timeout=LIVE)
    # An unwatch the page misses while its connection is silent: the reconnect brings it.
    line.muted = True
    assert api.session.delete(watch_url, headers=carol.headers, timeout=30).status_code == 200
    line.wait_until_dropped(page, 1)
    expect(count).to_have_text("1")
    line.cut()
    expect(count).to_have_text("0", timeout=LIVE)


def test_a_sellers_listings_follow_bids_and_watchers_live(open_page, api, people):
    seller, bob = people["seller"], people["bob"]
    auction = seller.create_auction(seconds=3600, title="Carriage clock", starting_price=2000)
    api.wait_until_biddable(auction["id"])
    page = open_page(DESKTOP, user=seller)
    page.goto("/me/listings")
    row = page.locator(f"#my-listings tr[data-auction-id='{auction['id']}']")
    expect(row.locator(".cell-bids")).to_have_text("0")
    expect(page.locator("#live-status")).to_have_text("Live", timeout=LIVE)
    page.evaluate("window.sameDocument = true")
    watch_url = f"{api.base_url}/api/auctions/{auction['id']}/watch"
    assert api.session.put(watch_url, headers=bob.headers, timeout=30).status_code == 200
    expect(row.locator(".cell-watchers")).to_have_text("1", timeout=LIVE)
    assert bob.bid(auction["id"], 2500).status_code == 201  # opens at the starting price
    expect(row.locator(".cell-bids")).not_to_have_text("0", timeout=LIVE)
    assert people["alice"].bid(auction["id"], 3000).status_code == 201
    expect(row.locator(".cell-price")).to_have_text("EUR 26.00", timeout=LIVE)
    assert page.evaluate("window.sameDocument === true"), "the rows updated without a reload"



def test_a_sellers_listings_catch_up_on_bids_missed_while_the_connection_was_down(
        open_page, api, people):
    seller, bob = people["seller"], people["bob"]
    auction = seller.create_auction(seconds=3600, title="Music box", starting_price=2000)
    api.wait_until_biddable(auction["id"])
    page = open_page(DESKTOP, user=seller)
    line = LiveLine(page)
    # The rows fetch their state once in their rooms: wait for that, so that the bid below
    # can only reach the page live or by the reconnect.
    with page.expect_response(lambda answer: "state.json" in answer.url, timeout=LIVE):
        page.goto("/me/listings")
    row = page.locator(f"#my-listings tr[data-auction-id='{auction['id']}']")
    expect(row.locator(".cell-bids")).to_have_text("0")
    line.muted = True
    assert bob.bid(auction["id"], 2500).status_code == 201
    line.wait_until_dropped(page, 1)
    expect(row.locator(".cell-bids")).to_have_text("0")
    page.evaluate("window.sameDocument = true")
    line.cut()
    expect(row.locator(".cell-bids")).to_have_text("1", timeout=LIVE)
    expect(row.locator(".cell-price")).to_have_text("EUR 20.00")
    assert page.evaluate("window.sameDocument === true"), "caught up without a reload"

def test_an_ended_auction_shows_only_its_outcome(open_page, api, people):
    seller, alice = people["seller"], people["alice"]
    # Long enough to open both pages and bid on a busy machine; no late-bid extension.
    reserved = seller.create_auction(seconds=30, title="Tin drum", starting_price=1000,
                                     reserve_price=9000, anti_sniping_seconds=0)
    plain = seller.create_auction(seconds=30, title="Wooden top", starting_price=1000,
                                  anti_sniping_seconds=0)
    for auction in (reserved, plain):
        api.wait_until_biddable(auction["id"])
    page = open_page(DESKTOP, user=alice)
    pages = {}
    for auction in (reserved, plain):
        tab = page.context.new_page()
        tab.goto(f"/auctions/{auction['id']}")
        expect(tab.locator("#live-status")).to_have_text("Live", timeout=LIVE)
        tab.locator("#bid-amount").fill("20.00")
        tab.locator("#bid-submit").click()
        expect(tab.locator("#bid-message")).to_contain_text("was placed", timeout=LIVE)
        pages[auction["id"]] = tab
    expect(pages[reserved["id"]].locator("#leader")).to_have_text(
        "You are the highest bidder, but the reserve is not met yet: raise your maximum to win")
    expect(pages[reserved["id"]].locator("#watch-toggle")).to_be_visible()

    outcomes = {reserved["id"]: "This auction has ended: the reserve was not met.",
                plain["id"]: "You won this auction for EUR 10.00."}
    for auction_id, tab in pages.items():
        expect(tab.locator("#outcome")).to_have_text(outcomes[auction_id], timeout=6 * LIVE)
        for gone in ("#leader", "#reserve-status", "#bid-message", "#bidding", "#watch-toggle",
                     "#outbid-banner"):
            expect(tab.locator(gone)).to_be_hidden()
        expect(tab.locator("#price-label")).to_have_text("Final price")
        assert "highest bidder" not in tab.locator("main").inner_text()
        tab.reload()
        expect(tab.locator("#outcome")).to_have_text(outcomes[auction_id])
        expect(tab.locator("#watch-toggle")).to_have_count(0)
        assert "highest bidder" not in tab.locator("main").inner_text()


# -- 7. one way of saying a time -----------------------------------------------------------


def test_times_are_relative_and_absolute_in_the_viewers_zone_with_the_zone_named(
        open_page, telescope):
    page = open_page(DESKTOP, timezone="America/New_York")
    page.goto(f"/auctions/{telescope['id']}")
    expect(page.locator("#ends-at")).to_have_text(re.compile(
        r"^in 2 h \d\d min · \d\d [A-Z][a-z]{2} \d{4}, \d\d:\d\d (EST|EDT|GMT-[45])$"))
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^2 h \d\d min$"))
    page.goto("/")
    card = page.locator(f".auction-card[data-auction-id='{telescope['id']}'] .time-left")
    expect(card).to_have_text(re.compile(r"^2 h \d\d min$"))


# -- 4. selling --------------------------------------------------------------------------------


def test_a_seller_sets_the_end_in_local_time_and_lists_with_photos_in_the_chosen_order(
        open_page, api, people, tmp_path):
    page = open_page(DESKTOP, user=people["seller"], timezone="Europe/Berlin")
    page.goto("/sell")
    form = page.locator("#sell-form")
    expect(page.locator("#time-zone-name")).to_contain_text("Europe/Berlin")
    title = f"Telescope {uuid.uuid4().hex[:6]}"
    form.locator("[name=title]").fill(title)
    form.locator("[name=category]").select_option(label="Collectibles")
    form.locator("[name=starting_price]").fill("20.00")
    # Ten days ahead at 18:30 in Berlin, whatever the machine's own zone.
    berlin = ZoneInfo("Europe/Berlin")
    end = (datetime.now(berlin) + timedelta(days=10)).replace(hour=18, minute=30, second=0,
                                                               microsecond=0)
    form.locator("[name=ends_at_local]").fill(end.strftime("%Y-%m-%dT%H:%M"))
    form.locator("#sell-photo-file").set_input_files([
        photo(tmp_path, "first.png", (200, 30, 30)), photo(tmp_path, "second.png", (30, 160, 60))])
    previews = page.locator("#sell-photo-previews li")
    expect(previews).to_have_count(2)
    expect(previews.first.locator("img")).to_have_attribute("src", re.compile(r"^blob:"))
    previews.nth(1).get_by_role("button", name="Move earlier").click()
    expect(previews.first).to_have_attribute("data-name", "second.png")
    screenshot(page, "desktop-sell")

    # Hold the uploads until the page has shown their progress.
    held, holding = [], [True]
    page.route(re.compile(r"/auctions/[0-9a-f-]{36}/photos$"),
               lambda route: held.append(route) if holding else route.continue_())
    form.locator("#sell-submit").click()
    expect(page.locator("#sell-status")).to_contain_text("Uploading photo 1 of 2")
    expect(previews.first.locator("progress")).to_be_visible()
    holding.clear()
    for route in held:
        route.continue_()

    expect(page).to_have_url(re.compile(r"/auctions/[0-9a-f-]{36}$"), timeout=LIVE)
    expect(page.locator("#flashes")).to_contain_text("Your auction is listed.")
    expect(page.locator("#flashes")).to_contain_text("2 photos added.")
    auction_id = page.url.rsplit("/", 1)[1]
    listing = api.get(f"/api/auctions/{auction_id}").json()
    assert datetime.fromisoformat(listing["ends_at"]) == end
    colours = [photo_colour(page, image["thumb_url"]) for image in listing["images"]]
    assert colours == ["green", "red"], colours
    expect(page.locator("#ends-at")).to_contain_text(
        end.strftime("%d %b %Y, 18:30 ") + end.strftime("%Z"))  # CET or CEST


def photo_colour(page: Page, url: str) -> str:
    """Which of red and green a served photo mostly is."""
    from io import BytesIO

    from PIL import Image

    image = Image.open(BytesIO(page.request.get(url).body())).convert("RGB")
    red, green, _ = image.getpixel((image.width // 2, image.height // 2))
    return "red" if red > green else "green"


# -- 6. browsing -------------------------------------------------------------------------------


def test_browsing_counts_filters_by_price_and_condition_pages_back_and_hides_ended_items(
        open_page, api, people):
    word = f"lamp{uuid.uuid4().hex[:6]}"
    seller = people["seller"]
    for index in range(5):
        seller.create_auction(seconds=3600, title=f"Brass {word} {index}",
                              starting_price=1000 * (index + 1),
                              condition="used" if index % 2 else "new")
    ended = seller.create_auction(seconds=4, title=f"Old {word}", starting_price=1000)
    wait_for(lambda: api.get(f"/api/auctions/{ended['id']}").json()["status"] == "ended",
             timeout=LIVE / 1000 * 3, message="the short auction to end")

    page = open_page(DESKTOP)
    page.goto(f"/?q={word}")
    expect(page.locator("#result-count")).to_have_text("5 auctions")
    expect(page.locator("#auction-list .auction-card")).to_have_count(5)
    expect(page.locator("#auction-list")).not_to_contain_text(f"Old {word}")

    page.locator("#search-condition").select_option("used")
    page.locator("#search-min-price").fill("15")
    page.locator("#search-max-price").fill("45")
    page.locator("#search-submit").click()
    expect(page.locator("#result-count")).to_have_text("2 auctions")
    titles = page.locator("#auction-list .card-title").all_inner_texts()
    assert sorted(titles) == [f"Brass {word} 1", f"Brass {word} 3"]

    page.locator("#search-status").select_option("any")
    page.locator("#search-condition").select_option("")
    page.locator("#search-min-price").fill("")
    page.locator("#search-max-price").fill("")
    page.locator("#search-submit").click()
    expect(page.locator("#result-count")).to_have_text("6 auctions")
    expect(page.locator("#auction-list")).to_contain_text(f"Old {word}")
    screenshot(page, "desktop-browse")


def test_previous_page_goes_back_through_the_pages(open_page, api, people):
    word = f"cup{uuid.uuid4().hex[:6]}"
    for index in range(23):  # the catalog's pages hold 20
        people["seller"].create_auction(seconds=3600, title=f"Tea {word} {index:02d}",
                                        starting_price=100 + index)
    page = open_page(PHONE)
    page.goto(f"/?q={word}&sort=price_asc")
    expect(page.locator("#result-count")).to_have_text("23 auctions")
    expect(page.locator("#prev-page")).to_have_count(0)
    page.locator("#next-page").click()
    expect(page.locator("#auction-list .auction-card")).to_have_count(3)
    expect(page.locator("#result-count")).to_contain_text("page 2")
    page.locator("#prev-page").click()
    expect(page.locator("#auction-list .auction-card")).to_have_count(20)
    expect(page.locator("#auction-list .card-title").first).to_have_text(f"Tea {word} 00")
    expect(page.locator("#prev-page")).to_have_count(0)
    screenshot(page, "phone-browse")


# -- 8. accessibility --------------------------------------------------------------------------


def test_a_keyboard_user_skips_to_the_content_and_always_sees_where_the_focus_is(
        open_page, people, telescope):
    page = open_page(DESKTOP, user=people["bob"])
    page.goto(f"/auctions/{telescope['id']}")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    page.locator("#bid-amount").focus()
    ring = page.locator("#bid-amount").evaluate(
        "el => { const s = getComputedStyle(el); return [s.outlineStyle, s.outlineWidth,"
        " s.outlineColor]; }")
    assert ring[0] != "none" and float(ring[1].rstrip("px")) >= 2, ring
    assert ring[2] == "rgb(48, 86, 211)", ring  # the accent colour, not its pale tint


def test_every_page_has_no_serious_accessibility_violations_on_a_phone_and_a_desktop(
        open_page, api, people, telescope):
    seller = people["seller"]
    own = seller.create_auction(seconds=3600, title="Pocket watch", starting_price=500)
    api.wait_until_biddable(own["id"])
    assert people["alice"].bid(telescope["id"], 3000).status_code == 201
    assert people["alice"].bid(own["id"], 600).status_code == 201
    public = ["/", "/login", "/register", f"/auctions/{telescope['id']}",
              f"/users/{seller.id}"]
    signed_in = ["/", f"/auctions/{telescope['id']}", "/sell", "/me/bids", "/me/watching",
                 "/me/notifications", "/account", "/me/listings", f"/auctions/{own['id']}",
                 f"/auctions/{own['id']}/edit"]
    problems = {}
    for viewport, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
        anonymous = open_page(viewport)
        for path in public:
            anonymous.goto(path)
            problems[(label, "signed out", path)] = axe_violations(anonymous)
        if viewport is DESKTOP:
            anonymous.goto("/")
            screenshot(anonymous, "desktop-home")
        for person, paths in ((people["alice"], signed_in[:7]), (seller, signed_in[7:])):
            page = open_page(viewport, user=person)
            for path in paths:
                page.goto(path)
                problems[(label, person.display_name, path)] = axe_violations(page)
                if path == "/me/bids":
                    screenshot(page, f"{label}-my-bids")
    failing = {key: found for key, found in problems.items() if found}
    assert not failing, failing

    # Minor for axe, still a gap for a screen reader: every column of My listings is named.
    page.goto("/me/listings")
    headers = page.locator("#my-listings th").all_text_contents()
    assert headers and all(text.strip() for text in headers), headers


def test_without_javascript_a_seller_lists_with_a_photo_and_the_pages_still_read(
        browser, stack, people, tmp_path):
    context = browser.new_context(base_url=stack.url, viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, people["seller"])
        expect(page.locator("#nav-sell")).to_be_visible()  # the menu stays open without script
        page.goto("/sell")
        form = page.locator("#sell-form")
        form.locator("[name=title]").fill("Plain teapot")
        form.locator("[name=category]").select_option("collectibles")
        form.locator("[name=starting_price]").fill("12.00")
        end = datetime.now(UTC) + timedelta(days=2)
        form.locator("[name=ends_at_local]").fill(end.strftime("%Y-%m-%dT%H:%M"))  # UTC
        form.locator("#sell-photo-file").set_input_files(
            photo(tmp_path, "teapot.png", (90, 90, 200)))
        form.locator("#sell-submit").click()
        expect(page).to_have_url(re.compile(r"/auctions/[0-9a-f-]{36}$"))
        expect(page.locator("#flashes")).to_contain_text("listed with 1 photo")
        expect(page.locator("#gallery-photo")).to_be_visible()
        expect(page.locator("#ends-at")).to_contain_text(end.strftime("%d %b %Y, %H:%M UTC"))
        expect(page.locator("#price")).to_have_text("EUR 12.00")
        expect(page.locator("#countdown")).to_have_text(re.compile(r"^1 d 23 h|^2 d 0 h"))
    finally:
        context.close()
