"""Checking an uploaded logo: decoded by Pillow, re-encoded by us, never served as sent.

What the owner uploads is only ever read by Pillow's PNG, JPEG and WebP
decoders. Whatever decodes is drawn again into a fresh PNG of at most
``MAX_SIDE`` pixels a side: metadata (EXIF, comments, ICC profiles), trailing
bytes and any markup hidden in the file are left behind, so what we serve
is an image we wrote ourselves.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageOps

from portal.web.lazy_text import lazy_text as _l

#: Largest upload accepted (bytes): a logo is far smaller; a photo of a shop sign fits.
MAX_BYTES = 2 * 1024 * 1024
#: The decoders tried, and so the only formats accepted.
FORMATS = ("PNG", "JPEG", "WEBP")
#: Largest image (pixels) we decode: 4096 × 4096. A small file can claim far more
#: (a "decompression bomb"); its header is read and the image refused before decoding.
MAX_PIXELS = 4096 * 4096
#: Longest side of the logo as served: a header shows it at 48 px high, 4× for sharp screens.
MAX_SIDE = 512
MEDIA_TYPE = "image/png"

# Pillow's own guard, for any decode in this process: it warns above this many pixels
# and refuses above twice as many; ``decoded`` turns the warning into a refusal too.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

TOO_LARGE = _l("The logo file is larger than 2 MB. Please upload a smaller image.")
EMPTY = _l("Please choose an image file for the logo.")
NOT_AN_IMAGE = _l(
    "This file is not a PNG, JPEG or WebP image we can read. Please upload the logo "
    "as PNG, JPEG or WebP (SVG and other formats are not accepted)."
)
TOO_MANY_PIXELS = _l(
    "The image is too large (more than 4096 × 4096 pixels). Please scale it down first."
)
BROKEN = _l("The image file is damaged or incomplete. Please export it again and upload it.")
EXTRA_DATA = _l(
    "The image file carries other data besides the picture. Please export it again "
    "as a plain PNG, JPEG or WebP."
)

#: Markup that has no business in an image file: a browser that sniffs would run it.
_MARKUP = (b"<html", b"<script", b"<svg", b"<!doctype", b"<body", b"<iframe")


class LogoRefused(ValueError):
    """The upload is not a logo we accept; ``str()`` says why, ``status`` answers it."""

    field = "logo"

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Logo:
    """A logo as we store and serve it."""

    data: bytes
    media_type: str
    width: int
    height: int

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def checked_logo(upload: bytes) -> Logo:
    """The upload decoded, checked and re-encoded as a PNG; ``LogoRefused`` says why not."""
    if not upload:
        raise LogoRefused(str(EMPTY))
    if len(upload) > MAX_BYTES:
        raise LogoRefused(str(TOO_LARGE), 413)
    image = decoded(upload)
    _refuse_hidden_content(upload)
    return reencoded(image)


def _refuse_hidden_content(upload: bytes) -> None:
    """Refuse markup anywhere in the file and bytes after a PNG's or WebP's end.

    Re-encoding would drop them anyway; refusing says plainly that the file is
    not what it claims, and nothing of it is stored.
    """
    lowered = upload.lower()
    if any(marker in lowered for marker in _MARKUP):
        raise LogoRefused(str(EXTRA_DATA))
    if upload.startswith(b"\x89PNG\r\n\x1a\n"):
        end = upload.rfind(b"IEND")
        if end != -1 and end + 8 != len(upload):  # "IEND" and its 4-byte CRC close the file
            raise LogoRefused(str(EXTRA_DATA))
    if upload.startswith(b"RIFF") and upload[8:12] == b"WEBP":
        declared = int.from_bytes(upload[4:8], "little") + 8
        if declared != len(upload):
            raise LogoRefused(str(EXTRA_DATA) if declared < len(upload) else str(BROKEN))


def decoded(upload: bytes) -> Image.Image:
    """The fully decoded image; refused unless PNG, JPEG or WebP of at most MAX_PIXELS."""
    with warnings.catch_warnings():
        # Above MAX_PIXELS Pillow only warns (up to twice as many): a refusal here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(upload), formats=FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise LogoRefused(str(TOO_MANY_PIXELS), 413) from None
        except (OSError, SyntaxError, ValueError):
            raise LogoRefused(str(NOT_AN_IMAGE), 415) from None
        if image.format not in FORMATS:
            raise LogoRefused(str(NOT_AN_IMAGE), 415)
        if image.width * image.height > MAX_PIXELS:
            raise LogoRefused(str(TOO_MANY_PIXELS), 413)
        try:
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise LogoRefused(str(TOO_MANY_PIXELS), 413) from None
        except (OSError, SyntaxError, ValueError, EOFError):
            raise LogoRefused(str(BROKEN)) from None
    return image


def reencoded(image: Image.Image) -> Logo:
    """A new PNG of ``image``: upright, at most MAX_SIDE a side, no metadata."""
    if image.format == "JPEG":
        image = ImageOps.exif_transpose(image)  # a phone photo stands as it was taken
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    image = image.convert("RGBA" if has_alpha else "RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG")  # no pnginfo, exif or icc_profile: nothing carried over
    return Logo(out.getvalue(), MEDIA_TYPE, image.width, image.height)


def leaf_logo(color: tuple[int, int, int]) -> Logo:
    """A simple made-up logo (a white leaf on a rounded square of ``color``), for the demo."""
    image = Image.new("RGBA", (256, 256), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, 255, 255), radius=52, fill=(*color, 255))
    draw.ellipse((72, 40, 184, 216), fill=(255, 255, 255, 255))
    draw.line((128, 58, 128, 216), fill=(*color, 255), width=10)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return checked_logo(out.getvalue())
