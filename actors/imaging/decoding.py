"""Bytes to pixels ready to encode: within the pixel limit, oriented, fitted, 8 bits a channel.

The pixel limit is checked from the header, before any pixel is decoded; JPEGs that will be
downscaled are decoded at a reduced scale (`draft`).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from actors.errors import PermanentFailure
from actors.formats import INPUT_FORMATS, input_format
from actors.imaging.pixels import replace, resize, to_8bit
from storage.vocabulary import FailureReason

# `max_pixels` is the rule, checked before decoding. Pillow's own process-wide guard would warn,
# or refuse, at its own threshold; it cannot be set per call, so it is switched off.
Image.MAX_IMAGE_PIXELS = None

# What Pillow's plugins raise on hostile or broken input, besides UnidentifiedImageError.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, struct.error)
_EXIF_ORIENTATION = 0x0112
_SWAPS_AXES = frozenset({5, 6, 7, 8})


@dataclass(frozen=True)
class Source:
    image: Image.Image  # decoded, oriented, resized, 8 bits per channel
    format: str | None  # our name when `original` keeps the format, else None
    icc_profile: bytes | None
    changed: bool  # resized or re-oriented: the original bytes no longer show the result


def decode(data: bytes, max_pixels: int, max_width: int | None, max_height: int | None) -> Source:
    """`data` decoded to fit the box; PermanentFailure when it is not a usable image."""
    with _not_an_image():
        image = Image.open(io.BytesIO(data), formats=INPUT_FORMATS)
        try:
            return _prepare(image, max_pixels, max_width, max_height)
        except BaseException:
            image.close()
            raise


def _prepare(
    image: Image.Image, max_pixels: int, max_width: int | None, max_height: int | None
) -> Source:
    _check_pixels(image.size, max_pixels)
    orientation = _orientation(image)
    target = _fit(_displayed_size(image.size, orientation), max_width, max_height)
    fmt, icc = input_format(image.format), image.info.get("icc_profile")
    pixels = to_8bit(_load_oriented(image, orientation, target))
    if target is not None:
        pixels = resize(pixels, target)
    return Source(pixels, fmt, icc, changed=orientation != 1 or target is not None)


def _load_oriented(
    image: Image.Image, orientation: int, target: tuple[int, int] | None
) -> Image.Image:
    if target is not None and image.format in ("JPEG", "MPO"):
        # libjpeg decodes at 1/2, 1/4 or 1/8 scale, never below the size asked (stored axes).
        image.draft(None, _displayed_size(target, orientation))
    image.load()
    if orientation == 1:  # exif_transpose would copy the whole image for nothing
        return image
    return replace(image, ImageOps.exif_transpose(image))


@contextmanager
def _not_an_image() -> Iterator[None]:
    try:
        yield
    except UnidentifiedImageError:
        raise PermanentFailure(
            FailureReason.NOT_AN_IMAGE, "not a recognised image format"
        ) from None
    except _DECODE_ERRORS as error:
        raise PermanentFailure(
            FailureReason.NOT_AN_IMAGE, "image data is corrupt or truncated"
        ) from error


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        message = (
            f"image is {width}×{height} = {_megapixels(width * height)} MP, "
            f"over the {_megapixels(max_pixels)} MP limit"
        )
        raise PermanentFailure(FailureReason.TOO_MANY_PIXELS, message)


def _megapixels(pixels: int) -> str:
    return f"{round(pixels / 1_000_000, 1):g}"


def _orientation(image: Image.Image) -> int:
    value = image.getexif().get(_EXIF_ORIENTATION, 1)
    return value if value in range(1, 9) else 1


def _displayed_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """The size as shown after orientation; the same swap maps it back to stored axes."""
    return (size[1], size[0]) if orientation in _SWAPS_AXES else size


def _fit(
    size: tuple[int, int], max_width: int | None, max_height: int | None
) -> tuple[int, int] | None:
    """The size that fits the box with the same aspect ratio, or None when no shrink is needed."""
    width, height = size
    scale = min(max_width / width if max_width else 1.0, max_height / height if max_height else 1.0)
    if scale >= 1:
        return None
    fitted_width = min(max_width or width, max(1, round(width * scale)))
    return fitted_width, min(max_height or height, max(1, round(height * scale)))
