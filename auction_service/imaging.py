"""Photos: decode an upload with Pillow and re-encode it in two sizes, keeping only pixels.

Nothing of the uploaded file survives but its pixels (turned upright): EXIF (camera, GPS),
XMP, comments, colour profiles (converted to sRGB first), extra frames and anything appended
after the image data are all dropped, because the output is encoded from scratch.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from auction_common.problems import Problem

#: Formats accepted on upload (Pillow's names) and how clients call them.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
MAX_IMAGE_BYTES = 10 * 1024 * 1024
#: Decoding a huge canvas costs memory whatever the file size (a "decompression bomb").
MAX_IMAGE_PIXELS = 50_000_000
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
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise invalid_image(f"The photo has more than {MAX_IMAGE_PIXELS // 1_000_000} "
                                    "million pixels.")
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
        return ProcessedImage(thumb=_encode(pixels, THUMB_SIZE),
                              display=_encode(pixels, DISPLAY_SIZE))
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
    resized.thumbnail(box, Image.Resampling.LANCZOS)  # never enlarges
    out = io.BytesIO()
    resized.save(out, OUTPUT_FORMAT, quality=OUTPUT_QUALITY, method=4)
    return Rendition(out.getvalue(), resized.width, resized.height)
