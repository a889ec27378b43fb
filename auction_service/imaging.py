"""Photos: decode an upload with Pillow and re-encode it in two sizes, keeping only pixels.

Nothing of the uploaded file survives but its pixels (turned upright): EXIF (camera, GPS),
XMP, comments, colour profiles (converted to sRGB first), extra frames and anything appended
after the image data are all dropped, because the output is encoded from scratch.
"""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from auction_common.problems import Problem

#: Formats accepted on upload (Pillow's names) and how clients call them.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
MAX_IMAGE_BYTES = 10 * 1024 * 1024
#: Decoding a huge canvas costs memory whatever the file size (a "decompression bomb"), so
#: the size the header declares is checked before any pixel is decoded. A JPEG decodes at a
#: reduced scale (1/2 to 1/8, just above the display size), so it may be as large as any phone
#: takes (a 48-megapixel camera's default photo is 12 or 24 megapixels)...
MAX_IMAGE_PIXELS = 40_000_000
#: ...but a PNG or WebP decodes in full (4 bytes a pixel, and a few copies while converting):
#: 16 million pixels (4,900 × 3,265) still takes any phone's screenshot or photo.
MAX_FULL_DECODE_PIXELS = 16_000_000
#: Photos decoded at once by one process (each may hold a few hundred MB for a moment);
#: further uploads wait their turn, never the process's other requests.
CONCURRENT_DECODES = 2
THUMB_SIZE = (400, 400)
DISPLAY_SIZE = (1600, 1600)
OUTPUT_FORMAT, OUTPUT_EXTENSION = "WEBP", "webp"
OUTPUT_QUALITY = 82


@dataclass(frozen=True)
class Rendition:
    """One re-encoded size of a photo."""

    data: bytes
    width: int
    height: int
    #: The pixels encoded (to make a smaller size from); not compared or shown.
    image: Image.Image | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ProcessedImage:
    """The sizes written for a photo."""

    thumb: Rendition
    display: Rendition
    extension: str = OUTPUT_EXTENSION


def invalid_image(message: str) -> Problem:
    """The 422 answer for an upload that is not an image we accept."""
    return Problem(422, "invalid_image", message, [{"field": "file", "message": message}])


def process_image(data: bytes) -> ProcessedImage:
    """Decode ``data`` (JPEG, PNG or WebP) and re-encode it as a thumbnail and a display size.

    Raises 422 ``invalid_image`` for anything that does not decode as an accepted image."""
    if len(data) > MAX_IMAGE_BYTES:
        raise Problem(413, "image_too_large",
                      f"A photo may be at most {MAX_IMAGE_BYTES // (1024 * 1024)} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
            width, height = image.size  # from the header: nothing is decoded yet
            limit = MAX_IMAGE_PIXELS if image.format == "JPEG" else MAX_FULL_DECODE_PIXELS
            if width * height > limit:
                raise invalid_image(
                    f"The photo has more than {limit // 1_000_000} million pixels"
                    + ("." if image.format == "JPEG" else " (as a PNG or WebP; a JPEG may "
                       f"have up to {MAX_IMAGE_PIXELS // 1_000_000} million)."))
            if image.format == "JPEG":
                image.draft("RGB", DISPLAY_SIZE)  # decode at a reduced scale when it is large
            image.load()
    except UnidentifiedImageError:
        raise invalid_image("The file is not a JPEG, PNG or WebP image.") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise invalid_image("The image could not be decoded (damaged or truncated).") from None
    try:
        pixels = _upright_srgb(image)
        del image
        display = _encode(pixels, DISPLAY_SIZE)
        del pixels  # the thumbnail comes from the display size: one large copy at a time
        return ProcessedImage(thumb=_encode(display.image, THUMB_SIZE), display=display)
    except (OSError, ValueError):
        raise invalid_image("The image could not be decoded (damaged or truncated).") from None


def _upright_srgb(image: Image.Image) -> Image.Image:
    """The first frame's pixels, rotated as EXIF says, in sRGB, without any metadata."""
    image = ImageOps.exif_transpose(image)
    profile = image.info.get("icc_profile")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info)
    mode = "RGBA" if has_alpha else "RGB"
    if profile and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            target = ImageCms.createProfile("sRGB")
            image = ImageCms.profileToProfile(image, source, target,
                                              outputMode="RGBA" if has_alpha else "RGB")
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken profile: keep the pixels as they are
    pixels = image.convert(mode)
    clean = Image.new(mode, pixels.size)
    clean.paste(pixels)
    return clean


def _encode(image: Image.Image, box: tuple[int, int]) -> Rendition:
    resized = image.copy()
    # reducing_gap: shrink by whole factors first (cheap), then resample the rest (LANCZOS).
    resized.thumbnail(box, Image.Resampling.LANCZOS, reducing_gap=3.0)  # never enlarges
    out = io.BytesIO()
    resized.save(out, OUTPUT_FORMAT, quality=OUTPUT_QUALITY, method=4)
    return Rendition(out.getvalue(), resized.width, resized.height, resized)


class _DecodingPool:
    """Runs the decoding in real threads, :data:`CONCURRENT_DECODES` at a time.

    Under gevent (every web process, and the embedded mode's single process) a request is a
    greenlet: CPU work in it would stop every other request of the process until done. Pillow
    releases the GIL while it decodes, resizes and encodes, so a real thread lets the event
    loop serve everything else meanwhile; the waiting request only yields."""

    def __init__(self, size: int):
        self._size = size
        self._pool = None
        self._lock = threading.Lock()

    def run(self, function, *args):
        """``function(*args)`` in one of the pool's threads; its result or its exception."""
        with self._lock:
            if self._pool is None:
                self._pool = self._make_pool()
        if hasattr(self._pool, "apply"):  # gevent's pool of real threads
            return self._pool.apply(function, args)
        return self._pool.submit(function, *args).result()

    def _make_pool(self):
        from gevent import monkey

        if monkey.is_module_patched("threading"):
            from gevent.threadpool import ThreadPool

            return ThreadPool(self._size)
        from concurrent.futures import ThreadPoolExecutor

        return ThreadPoolExecutor(self._size, thread_name_prefix="image-decoding")


_decoding_pool = _DecodingPool(CONCURRENT_DECODES)


def process_image_off_the_loop(data: bytes) -> ProcessedImage:
    """:func:`process_image` in a real thread: the caller waits, the process's other
    requests do not."""
    return _decoding_pool.run(process_image, data)
