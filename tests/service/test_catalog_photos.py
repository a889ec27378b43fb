"""A listing's photos on real PostgreSQL and a real media directory: upload, clean, delete,
reorder, serve."""

from __future__ import annotations

import io
import os
import uuid

import pytest
from PIL import Image, ImageCms

from tests.service import test_catalog as base
from tests.service.test_catalog import bid_placed, list_item

deliver = base.deliver  # the read model's real consumer


@pytest.fixture(scope="module")
def media_root(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def catalog_app(settings_for, media_root, bidding):
    """auction_service writing photos under this module's own media directory (asking this
    run's bidding_service about sellers' changes, in process)."""
    from auction_service.app import build_parts, create_app
    from auction_service.bidding import BiddingGate, wsgi_transport

    settings = settings_for("auction_service", media_root=media_root)
    parts = build_parts(settings)
    app = create_app(settings, parts, BiddingGate(wsgi_transport(bidding[0])))
    app.testing = True
    yield app, parts
    parts.db.engine.dispose()


@pytest.fixture(scope="module")
def client(catalog_app):
    return catalog_app[0].test_client()


@pytest.fixture(scope="module")
def db(catalog_app):
    return catalog_app[1].db


def picture(fmt: str = "JPEG", size=(1200, 800), mode: str = "RGB", **save) -> bytes:
    """An image file with a gradient (so that it is not trivially compressible)."""
    image = Image.linear_gradient("L").resize(size).convert(mode)
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def upload(client, user, auction_id: str, data: bytes, filename: str = "photo.jpg",
           content_type: str = "image/jpeg"):
    return client.post(f"/api/auctions/{auction_id}/images",
                       data={"file": (io.BytesIO(data), filename, content_type)},
                       content_type="multipart/form-data",
                       headers=user.headers if user else {})


def uploaded(client, user, auction_id: str, data: bytes | None = None) -> dict:
    answer = upload(client, user, auction_id, data or picture())
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def files_of(media_root, auction_id: str) -> set[str]:
    folder = media_root / "auctions" / auction_id
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def media_file(media_root, url: str):
    assert url.startswith("/media/")
    return media_root / url.removeprefix("/media/")


def error_of(answer) -> tuple[int, str]:
    assert answer.is_json, answer.get_data(as_text=True)[:200]
    return answer.status_code, answer.get_json()["error"]["code"]


@pytest.fixture
def seller(account):
    return account("seller")


@pytest.fixture
def auction(client, seller):
    return list_item(client, seller)


# --- uploading ------------------------------------------------------------------------------


def test_a_photo_is_stored_in_two_sizes_under_the_media_root(client, seller, auction,
                                                              media_root):
    image = uploaded(client, seller, auction["id"], picture(size=(2400, 1200)))
    assert image["position"] == 0
    base_url = f"/media/auctions/{auction['id']}/{image['id']}"
    assert image["thumb_url"] == f"{base_url}_thumb.webp"
    assert image["display_url"] == f"{base_url}_display.webp"
    assert files_of(media_root, auction["id"]) == {f"{image['id']}_thumb.webp",
                                                   f"{image['id']}_display.webp"}
    with Image.open(media_file(media_root, image["display_url"])) as display:
        assert (display.format, display.size) == ("WEBP", (1600, 800))
    with Image.open(media_file(media_root, image["thumb_url"])) as thumb:
        assert (thumb.format, thumb.size) == ("WEBP", (400, 200))
    assert (image["width"], image["height"], image["thumb_width"], image["thumb_height"]) == (
        1600, 800, 400, 200)


def test_a_small_photo_is_never_enlarged(client, seller, auction, media_root):
    image = uploaded(client, seller, auction["id"], picture("PNG", size=(300, 200)))
    assert (image["width"], image["height"]) == (300, 200)
    assert (image["thumb_width"], image["thumb_height"]) == (300, 200)


def test_exif_and_other_metadata_are_stripped_and_the_photo_turned_upright(
        client, seller, auction, media_root):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the camera was turned, rotate 90° clockwise to view
    exif[0x010F] = "SpyCam Industries"  # make
    exif[0x0131] = "SecretSoftware 1.0"  # software
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = picture(size=(800, 400), exif=exif.tobytes(), comment=b"private comment",
                   icc_profile=profile)
    assert b"SpyCam" in data
    image = uploaded(client, seller, auction["id"], data)
    for url in (image["display_url"], image["thumb_url"]):
        raw = media_file(media_root, url).read_bytes()
        assert b"SpyCam" not in raw and b"SecretSoftware" not in raw
        assert b"private comment" not in raw
        with Image.open(io.BytesIO(raw)) as stored:
            assert not stored.getexif()
            assert not {"exif", "xmp", "icc_profile", "comment"} & set(stored.info)
    assert (image["width"], image["height"]) == (400, 800)


def test_png_and_webp_are_accepted_and_transparency_kept(client, seller, auction,
                                                        media_root):
    see_through = Image.new("RGBA", (640, 480), (200, 30, 30, 255))
    see_through.paste((0, 0, 0, 0), (0, 0, 320, 480))  # the left half is transparent
    png = io.BytesIO()
    see_through.save(png, "PNG")
    image = uploaded(client, seller, auction["id"], png.getvalue())
    with Image.open(media_file(media_root, image["display_url"])) as stored:
        assert stored.mode == "RGBA"
        assert stored.getpixel((10, 10))[3] == 0 and stored.getpixel((600, 10))[3] == 255
    webp = uploaded(client, seller, auction["id"], picture("WEBP", size=(500, 500)))
    assert webp["position"] == 1


def test_photos_appear_in_the_listing_in_order(client, seller, auction, account):
    first = uploaded(client, seller, auction["id"])
    second = uploaded(client, seller, auction["id"])
    listing = client.get(f"/api/auctions/{auction['id']}").get_json()
    assert [i["id"] for i in listing["images"]] == [first["id"], second["id"]]
    assert listing["images"][0]["thumb_url"] == first["thumb_url"]
    page = client.get("/api/auctions", query_string={"seller_id": auction["seller_id"]})
    assert [i["id"] for i in page.get_json()["items"][0]["images"]] == [first["id"],
                                                                          second["id"]]


def test_the_app_serves_the_media_directory_for_the_embedded_mode(client, seller, auction,
                                                                   media_root):
    image = uploaded(client, seller, auction["id"])
    answer = client.get(image["thumb_url"])
    assert answer.status_code == 200
    assert answer.mimetype == "image/webp"
    assert answer.data == media_file(media_root, image["thumb_url"]).read_bytes()
    assert client.get("/media/../../etc/passwd").status_code == 404
    assert client.get(f"/media/auctions/{auction['id']}/nothing.webp").status_code == 404


# --- refusing -------------------------------------------------------------------------------


def test_a_text_file_renamed_to_jpg_is_refused(client, seller, auction, media_root):
    answer = upload(client, seller, auction["id"], b"Just some text, honestly.\n" * 40,
                    filename="holiday.jpg", content_type="image/jpeg")
    assert error_of(answer) == (422, "invalid_image")
    assert answer.get_json()["error"]["details"][0]["field"] == "file"
    assert files_of(media_root, auction["id"]) == set()
    assert client.get(f"/api/auctions/{auction['id']}").get_json()["images"] == []


@pytest.mark.parametrize("data", [
    pytest.param(picture("GIF", size=(100, 100)), id="gif"),
    pytest.param(picture("BMP", size=(100, 100)), id="bmp"),
    pytest.param(picture(size=(1000, 1000))[:3000], id="truncated-jpeg"),
    pytest.param(b"\x89PNG\r\n\x1a\n" + b"\x00" * 500, id="png-header-only"),
    pytest.param(b"", id="empty"),
])
def test_anything_but_a_whole_jpeg_png_or_webp_is_refused(client, seller, auction, media_root,
                                                          data):
    assert error_of(upload(client, seller, auction["id"], data)) == (422, "invalid_image")
    assert files_of(media_root, auction["id"]) == set()


def test_a_decompression_bomb_is_refused(client, seller, auction):
    bomb = io.BytesIO()
    Image.new("1", (10_000, 8_000)).save(bomb, "PNG")  # tiny file, 80 million pixels
    assert len(bomb.getvalue()) < 200_000
    assert error_of(upload(client, seller, auction["id"], bomb.getvalue())) == (
        422, "invalid_image")


def test_a_20_mb_image_is_refused_with_413_and_the_error_body(client, seller, auction,
                                                              media_root):
    noise = Image.frombytes("RGB", (2700, 2700), os.urandom(2700 * 2700 * 3))
    out = io.BytesIO()
    noise.save(out, "PNG", compress_level=0)
    assert len(out.getvalue()) > 20 * 1024 * 1024
    answer = upload(client, seller, auction["id"], out.getvalue(), "big.png", "image/png")
    assert error_of(answer) == (413, "image_too_large")
    assert "10 MB" in answer.get_json()["error"]["message"]
    assert files_of(media_root, auction["id"]) == set()


def test_a_photo_one_byte_over_10_mb_is_refused(client, seller, auction):
    data = picture(size=(64, 64))
    padded = data + b"\x00" * (10 * 1024 * 1024 + 1 - len(data))
    assert error_of(upload(client, seller, auction["id"], padded)) == (413, "image_too_large")


def test_an_upload_must_be_multipart_with_a_file_field(client, seller, auction):
    answer = client.post(f"/api/auctions/{auction['id']}/images", json={"file": "x"},
                         headers=seller.headers)
    assert error_of(answer) == (415, "unsupported_media_type")
    answer = client.post(f"/api/auctions/{auction['id']}/images",
                         data={"photo": (io.BytesIO(picture()), "a.jpg")},
                         content_type="multipart/form-data", headers=seller.headers)
    assert error_of(answer) == (422, "validation_error")
    assert answer.get_json()["error"]["details"] == [{"field": "file", "message": "missing"}]


def test_a_listing_holds_at_most_ten_photos(client, seller, auction, media_root):
    small = picture(size=(120, 90))
    for _ in range(10):
        uploaded(client, seller, auction["id"], small)
    assert error_of(upload(client, seller, auction["id"], small)) == (409, "too_many_images")
    assert len(files_of(media_root, auction["id"])) == 20


def test_only_the_seller_adds_photos(client, auction, account):
    assert error_of(upload(client, account("other"), auction["id"], picture())) == (
        403, "not_your_auction")
    assert upload(client, None, auction["id"], picture()).status_code == 401
    assert error_of(upload(client, account("other"), str(uuid.uuid4()), picture())) == (
        404, "auction_not_found")


def test_photos_are_locked_after_the_first_bid(client, seller, auction, account, deliver):
    image = uploaded(client, seller, auction["id"])
    deliver(bid_placed(auction, seq=1, price=1000, leader_id=account("ann").id, bid_count=1))
    assert error_of(upload(client, seller, auction["id"], picture())) == (409, "listing_locked")
    assert error_of(client.delete(f"/api/auctions/{auction['id']}/images/{image['id']}",
                                  headers=seller.headers)) == (409, "listing_locked")
    assert error_of(client.put(f"/api/auctions/{auction['id']}/images/order",
                               json={"image_ids": [image["id"]]},
                               headers=seller.headers)) == (409, "listing_locked")


# --- deleting and reordering ----------------------------------------------------------------


def test_deleting_a_photo_removes_its_files_and_closes_the_gap(client, seller, auction,
                                                               media_root):
    images = [uploaded(client, seller, auction["id"]) for _ in range(3)]
    answer = client.delete(f"/api/auctions/{auction['id']}/images/{images[1]['id']}",
                           headers=seller.headers)
    assert answer.status_code == 204
    assert not any(name.startswith(images[1]["id"])
                   for name in files_of(media_root, auction["id"]))
    listing = client.get(f"/api/auctions/{auction['id']}").get_json()
    assert [(i["id"], i["position"]) for i in listing["images"]] == [
        (images[0]["id"], 0), (images[2]["id"], 1)]
    again = client.delete(f"/api/auctions/{auction['id']}/images/{images[1]['id']}",
                          headers=seller.headers)
    assert error_of(again) == (404, "image_not_found")


def test_a_photo_of_another_listing_cannot_be_deleted_through_this_one(client, seller,
                                                                       auction, account):
    other_seller = account("other")
    other = list_item(client, other_seller)
    foreign = uploaded(client, other_seller, other["id"])
    answer = client.delete(f"/api/auctions/{auction['id']}/images/{foreign['id']}",
                           headers=seller.headers)
    assert error_of(answer) == (404, "image_not_found")
    answer = client.delete(f"/api/auctions/{other['id']}/images/{foreign['id']}",
                           headers=seller.headers)
    assert error_of(answer) == (403, "not_your_auction")


def test_photos_are_reordered(client, seller, auction):
    ids = [uploaded(client, seller, auction["id"])["id"] for _ in range(3)]
    wanted = [ids[2], ids[0], ids[1]]
    answer = client.put(f"/api/auctions/{auction['id']}/images/order",
                        json={"image_ids": wanted}, headers=seller.headers)
    assert answer.status_code == 200, answer.get_json()
    assert [i["id"] for i in answer.get_json()["items"]] == wanted
    listing = client.get(f"/api/auctions/{auction['id']}").get_json()
    assert [(i["id"], i["position"]) for i in listing["images"]] == [
        (image_id, position) for position, image_id in enumerate(wanted)]


@pytest.mark.parametrize("order", ["missing", "duplicate", "foreign", "not-a-uuid"])
def test_a_reorder_must_name_every_photo_once(client, seller, auction, order):
    ids = [uploaded(client, seller, auction["id"], picture(size=(80, 60)))["id"]
           for _ in range(2)]
    image_ids = {"missing": ids[:1], "duplicate": [ids[0], ids[0], ids[1]],
                 "foreign": [ids[0], str(uuid.uuid4())], "not-a-uuid": [ids[0], "x"]}[order]
    answer = client.put(f"/api/auctions/{auction['id']}/images/order",
                        json={"image_ids": image_ids}, headers=seller.headers)
    assert error_of(answer) == (422, "validation_error")
    assert answer.get_json()["error"]["details"][0]["field"].startswith("image_ids")
