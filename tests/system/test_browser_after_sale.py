"""After the hammer falls, in Chromium: the bidder who lost sees the "lost" notice and the
menu's unread badge, the winner sees the seller's contact on the auction page (and nobody
else does), the seller sees the buyer's, and relists an unsold item with its photos."""

from __future__ import annotations

import io
import re

import pytest

from tests.system.test_browser import CHROMIUM, LIVE, MAIL, reload_until_shown

if not CHROMIUM.exists():
    pytest.skip(f"Debian's chromium is not installed ({CHROMIUM} is missing)",
                allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

from tests.support.api import Api, User  # noqa: E402
from tests.system import test_browser as base  # noqa: E402

browser, window = base.browser, base.window  # the browser tests' fixtures

pytestmark = pytest.mark.browser


def signed_in(api: Api, person) -> User:
    """The API user behind a person who registered in the browser."""
    login = api.post("/api/auth/login", json={"email": person.email,
                                              "password": person.password})
    assert login.status_code == 200, login.text
    me = api.get("/api/users/me", headers={
        "Authorization": f"Bearer {login.json()['access_token']}"}).json()
    return User(api, person.email, person.password, me, login.json())


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (640, 480), (40, 90, 160)).save(out, "PNG")
    return out.getvalue()


def test_the_loser_is_told_the_winner_meets_the_seller_and_an_unsold_item_is_relisted(
        window, stack):
    api = Api(stack.url)
    sally, wes, lou = window("Sally"), window("Wes"), window("Lou")
    for person in (sally, wes, lou):
        person.register()
    seller, winner, loser = (signed_in(api, p) for p in (sally, wes, lou))

    # One auction sells to Wes; Lou bid too. Another ends without a bid.
    sold = seller.create_auction(seconds=8, title="Clockwork bird", starting_price=1000,
                                 anti_sniping_seconds=0)  # the bids must not move the end
    unsold = seller.create_auction(seconds=8, title="Copper kettle", starting_price=1500,
                                   condition="used")
    added = api.post(f"/api/auctions/{unsold['id']}/images", headers=seller.headers,
                     files={"file": ("kettle.png", png(), "image/png")})
    assert added.status_code == 201, added.text
    api.wait_until_biddable(sold["id"])
    assert loser.bid(sold["id"], 2000).status_code == 201
    assert winner.bid(sold["id"], 4000).status_code == 201

    # Lou, on the home page, sees the badge count up live: outbid, then lost.
    lou.go("/")
    expect(lou.page.locator("#unread-badge")).to_have_text("2", timeout=MAIL)
    lou.page.locator("#nav-notifications").click()
    lost = lou.page.locator("#notifications .notification[data-kind=lost]")
    expect(lost).to_contain_text("You did not win Clockwork bird")
    expect(lost).to_contain_text("another bidder won it for EUR 20.50")
    expect(lost).to_have_class(re.compile(r"\bunread\b"))  # new when first shown...
    lou.go("/")
    expect(lou.page.locator("#unread-badge")).to_be_hidden()  # ...read from then on
    lou.go(f"/auctions/{sold['id']}")
    expect(lou.page.locator("#outcome")).to_contain_text("sold for EUR 20.50")
    expect(lou.page.locator("#sale-contact")).to_have_count(0)

    # Wes sees whom to contact, on the auction page.
    wes.go(f"/auctions/{sold['id']}")
    contact = wes.page.locator("#sale-contact")
    reload_until_shown(wes.page, contact, sally.email, LIVE)
    expect(contact).to_contain_text("Sally")
    expect(contact.locator("#next-step")).to_have_text(
        "Contact the seller to arrange payment and delivery.")
    expect(contact.locator("#counterpart-email")).to_have_attribute(
        "href", f"mailto:{sally.email}")

    # Sally sees the buyer on hers, then relists the kettle nobody bid on.
    sally.go(f"/auctions/{sold['id']}")
    expect(sally.page.locator("#seller-tools #sale-contact")).to_contain_text(wes.email)
    expect(sally.page.locator("#relist")).to_have_count(0)
    sally.go(f"/auctions/{unsold['id']}")
    reload_until_shown(sally.page, sally.page.locator("#outcome"), "without any bids", LIVE)
    sally.page.locator("#relist").click()
    form = sally.page.locator("#sell-form")
    expect(sally.page.locator("#relist-note")).to_contain_text("with its 1 photo(s)")
    expect(form.locator("[name=title]")).to_have_value("Copper kettle")
    expect(form.locator("[name=starting_price]")).to_have_value("15.00")
    expect(form.locator("[name=condition]")).to_have_value("used")
    form.locator("[name=starting_price]").fill("12.00")
    form.locator("[name=duration_minutes]").fill("60")
    form.locator("#sell-submit").click()
    expect(sally.page).to_have_url(re.compile(r"/auctions/[0-9a-f-]{36}$"))
    assert unsold["id"] not in sally.page.url
    expect(sally.page.locator("#auction-title")).to_have_text("Copper kettle")
    expect(sally.page.locator("#flashes")).to_contain_text("listed again")
    expect(sally.page.locator("#price")).to_have_text("EUR 12.00")
    image = sally.page.locator("#gallery img").first
    expect(image).to_have_attribute("src", re.compile(r"^/media/auctions/.+_display\.\w+$"))
    assert sally.page.request.get(image.get_attribute("src")).status == 200
