"""Pixel bombs (issue 12): the declared size is checked before decoding, a PNG or WebP decodes
in full only up to a lower cap, a JPEG decodes at a reduced scale, and decoding never stops the
process's other requests."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap

import pytest
from PIL import Image

from tests.service import test_catalog_photos as photos
from tests.service.test_catalog_photos import error_of, files_of, upload, uploaded
from tools.services import ROOT

media_root, catalog_app, client, db = (photos.media_root, photos.catalog_app, photos.client,
                                       photos.db)
seller, auction = photos.seller, photos.auction


def compressed(size: tuple[int, int], fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, fmt, **({"lossless": True}
                                                            if fmt == "WEBP" else {}))
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_the_probes_pixel_bomb_is_refused_before_it_is_decoded(client, seller, auction,
                                                               media_root, fmt):
    """7070 × 7070 (just under the old 50-megapixel cap) in a small file."""
    bomb = compressed((7070, 7070), fmt)
    assert len(bomb) < 400_000
    status, code = error_of(upload(client, seller, auction["id"], bomb))
    assert (status, code) == (422, "invalid_image")
    assert files_of(media_root, auction["id"]) == set()


def test_a_large_phone_photo_as_jpeg_is_taken(client, seller, auction):
    """24 megapixels (a 48-megapixel phone's default): decoded at a quarter of its size."""
    out = io.BytesIO()
    Image.new("RGB", (6000, 4000), (10, 120, 60)).save(out, "JPEG", quality=70)
    photo = uploaded(client, seller, auction["id"], out.getvalue())
    assert (photo["width"], photo["height"]) == (1600, 1067)


def test_a_screenshot_sized_png_is_taken(client, seller, auction):
    photo = uploaded(client, seller, auction["id"], compressed((1290, 2796), "PNG"))
    assert photo["height"] == 1600


DECODING_WHILE_OTHERS_RUN = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import faulthandler
    import io
    import sys
    import gevent
    from PIL import Image
    from auction_service.imaging import process_image_off_the_loop

    out = io.BytesIO()
    Image.new("RGB", (3800, 3800), (1, 2, 3)).save(out, "PNG", compress_level=1)
    ticks = []
    done = []
    # Should this ever hang, every thread's stack says where.
    faulthandler.dump_traceback_later(90, exit=True, file=sys.stderr)

    def other_requests():
        # Each "request" waits a moment, as a real one waits on its socket: a loop that only
        # ever yields with sleep(0) keeps the hub from polling for a while (gevent's docs).
        while not done:
            ticks.append(1)
            gevent.sleep(0.001)

    ticker = gevent.spawn(other_requests)
    gevent.sleep(0)
    before = len(ticks)
    process_image_off_the_loop(out.getvalue())
    during = len(ticks) - before
    done.append(True)
    ticker.join()
    print("served meanwhile:", during)
    assert during > 1, "the event loop stood still while the photo was decoded"
""")


def test_decoding_a_photo_leaves_the_event_loop_free_for_other_requests():
    """The embedded mode is one gevent process: decoding in a greenlet stalled every request
    (a health check waited 2.8 s). Decoding runs in a real thread; the loop serves on."""
    result = subprocess.run([sys.executable, "-c", DECODING_WHILE_OTHERS_RUN], cwd=ROOT,
                            capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr
