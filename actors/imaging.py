"""Compress one image: bytes and options in, bytes and facts out. Pure: no I/O, no config.

The pixel limit is checked from the header, before any pixel is decoded. JPEGs that will be
downscaled are decoded at a reduced scale (`draft`). EXIF orientation is applied, metadata is
dropped but the ICC profile kept, and a re-encode that does not shrink an unchanged image in its
own format gives way to the original bytes. `quality="auto"` and `format="auto"` are settled on a
small sample of the decoded image (`actors.autotune`); the whole image is then encoded once.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, cast

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from actors import webp
from actors.errors import PermanentFailure
from actors.formats import (
    AUTO,
    AUTO_FORMATS,
    DEFAULT_ACCEPT,
    DEFAULT_TARGET,
    FORMAT_EXTENSIONS,
    INPUT_FORMATS,
    LOSSY,
    REQUESTABLE_FORMATS,
    input_format,
    output_format,
    save_options,
    strip_metadata,
)

__all__ = ["FORMAT_EXTENSIONS", "Compressed", "EncodeOptions", "compress"]

# `max_pixels` is the rule, checked before decoding. Pillow's own process-wide guard would warn,
# or refuse, at its own threshold; it cannot be set per call, so it is switched off.
Image.MAX_IMAGE_PIXELS = None

# What Pillow's plugins raise on hostile or broken input, besides UnidentifiedImageError.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, struct.error)
_EXIF_ORIENTATION = 0x0112
_SWAPS_AXES = frozenset({5, 6, 7, 8})
_MODES_KEPT = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "CMYK"})
_WHITE = "white"


@dataclass(frozen=True)
class EncodeOptions:
    """What a job asks for; built from the job's JSON options, so every field is JSON-friendly
    and has a default (options stored before a field existed still load)."""

    format: str = "original"  # "original" | "auto" | "jpeg" | "webp" | "avif" | "png"
    quality: int | Literal["auto"] = 50  # 1..100, or "auto": the lowest meeting `target`
    max_width: int | None = None  # downscale to fit, keep aspect ratio, never upscale
    max_height: int | None = None
    accept: tuple[str, ...] = DEFAULT_ACCEPT  # what format="auto" may choose (JSON: a list)
    target: float = DEFAULT_TARGET  # the SSIMULACRA2 score quality="auto" aims for

    def __post_init__(self) -> None:
        object.__setattr__(self, "accept", tuple(self.accept))  # a JSON list becomes a tuple
        if self.format not in REQUESTABLE_FORMATS:
            raise ValueError(f"unknown output format {self.format!r}")
        if any(side is not None and side < 1 for side in (self.max_width, self.max_height)):
            raise ValueError("max_width and max_height must be positive")
        _check_auto(self)


def _check_auto(options: EncodeOptions) -> None:
    quality = options.quality
    if quality != AUTO and not (isinstance(quality, int) and 1 <= quality <= 100):
        raise ValueError(f"quality must be 1..100 or 'auto', not {quality!r}")
    if options.format == AUTO and quality != AUTO:
        # Formats are only comparable at equal looks; a number means something else in each.
        raise ValueError("format 'auto' needs quality 'auto'")
    if not options.accept or not set(options.accept) <= set(AUTO_FORMATS):
        raise ValueError(f"accept must list some of {', '.join(AUTO_FORMATS)}")
    if not 0 < options.target < 100:
        raise ValueError(f"target must be a score between 0 and 100, not {options.target}")


@dataclass(frozen=True)
class Compressed:
    data: bytes
    format: str  # "jpeg" | "png" | "webp" | "avif": the output's format
    width: int  # the output's size
    height: int
    quality: int | None = None  # the quality encoded at; None for PNG and kept originals


@dataclass(frozen=True)
class _Plan:
    format: str
    quality: int
    tuned: bool  # chosen by the perceptual search, with the encoders' tuned settings


@dataclass(frozen=True)
class _Source:
    image: Image.Image  # decoded, oriented, resized, 8 bits per channel
    format: str | None  # our name when `original` keeps the format, else None
    icc_profile: bytes | None
    changed: bool  # resized or re-oriented: the original bytes no longer show the result


def compress(data: bytes, options: EncodeOptions, max_pixels: int) -> Compressed:
    """Re-encode `data` as `options` ask; PermanentFailure when it is not a usable image."""
    source = _decode(data, options, max_pixels)
    plan = _plan(source, options)
    encoded = _encode(source.image, plan.format, plan.quality, source.icc_profile, plan.tuned)
    fmt = plan.format
    if fmt == source.format and not source.changed and len(encoded.data) >= len(data):
        return Compressed(strip_metadata(data, fmt), fmt, encoded.width, encoded.height)
    return encoded


def _plan(source: _Source, options: EncodeOptions) -> _Plan:
    """The format and quality to encode at: as asked, or searched for on a sample."""
    if options.format == AUTO:
        formats = options.accept
    else:
        formats = (output_format(options.format, source.format),)
    if isinstance(options.quality, int):
        return _Plan(formats[0], options.quality, tuned=False)
    if not LOSSY.intersection(formats):  # PNG alone: nothing to search
        return _Plan(formats[0], 100, tuned=True)
    # Imported only now: the search needs NumPy, ~12 MiB of memory in every process that
    # loads it, and jobs with a numeric quality never do.
    from actors import autotune

    choice = autotune.choose(source.image, formats, options.target, encode_pixels)
    return _Plan(choice.format, choice.quality, tuned=True)


def encode_pixels(image: Image.Image, fmt: str, quality: int) -> bytes:
    """Decoded pixels encoded as the auto path encodes them, without an ICC profile; `image`
    is closed (pass a copy to keep it). The quality search's encoder, and the calibration's."""
    return _encode(image, fmt, quality, None, tuned=True).data


# Decoding


def _decode(data: bytes, options: EncodeOptions, max_pixels: int) -> _Source:
    with _not_an_image():
        image = Image.open(io.BytesIO(data), formats=INPUT_FORMATS)
        try:
            return _prepare(image, options, max_pixels)
        except BaseException:
            image.close()
            raise


def _prepare(image: Image.Image, options: EncodeOptions, max_pixels: int) -> _Source:
    _check_pixels(image.size, max_pixels)
    orientation = _orientation(image)
    target = _fit(_displayed_size(image.size, orientation), options.max_width, options.max_height)
    fmt, icc = input_format(image.format), image.info.get("icc_profile")
    pixels = _to_8bit(_load_oriented(image, orientation, target))
    if target is not None:
        pixels = _resize(pixels, target)
    return _Source(pixels, fmt, icc, changed=orientation != 1 or target is not None)


def _load_oriented(
    image: Image.Image, orientation: int, target: tuple[int, int] | None
) -> Image.Image:
    if target is not None and image.format in ("JPEG", "MPO"):
        # libjpeg decodes at 1/2, 1/4 or 1/8 scale, never below the size asked (stored axes).
        image.draft(None, _displayed_size(target, orientation))
    image.load()
    if orientation == 1:  # exif_transpose would copy the whole image for nothing
        return image
    return _replace(image, ImageOps.exif_transpose(image))


@contextmanager
def _not_an_image() -> Iterator[None]:
    try:
        yield
    except UnidentifiedImageError:
        raise PermanentFailure("not_an_image", "not a recognised image format") from None
    except _DECODE_ERRORS as error:
        raise PermanentFailure("not_an_image", "image data is corrupt or truncated") from error


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        message = (
            f"image is {width}×{height} = {_megapixels(width * height)} MP, "
            f"over the {_megapixels(max_pixels)} MP limit"
        )
        raise PermanentFailure("too_many_pixels", message)


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


# Pixels


def _replace(old: Image.Image, new: Image.Image | None) -> Image.Image:
    """`new` in place of `old`, freeing `old` at once: full-size images are large."""
    if new is None or new is old:
        return old
    old.close()
    return new


def _to_8bit(image: Image.Image) -> Image.Image:
    if image.mode in _MODES_KEPT:
        return image
    if image.mode.startswith("I;16"):
        return _replace(image, image.convert("I").point(lambda value: value / 256).convert("L"))
    if image.mode in ("I", "F"):
        return _replace(image, _stretch_to_8bit(image))
    has_alpha = "A" in image.mode or image.has_transparency_data
    return _replace(image, image.convert("RGBA" if has_alpha else "RGB"))


def _stretch_to_8bit(image: Image.Image) -> Image.Image:
    # 32-bit integer and float pixels have no agreed white: map their own range to 0..255.
    low, high = cast(tuple[float, float], image.getextrema())
    scale = 255 / (high - low) if high > low else 1.0
    return image.point(lambda value: (value - low) * scale).convert("L")


def _resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if image.mode in ("1", "P"):  # Pillow resizes these with NEAREST only
        rich = "L" if image.mode == "1" else "RGBA" if image.has_transparency_data else "RGB"
        image = _replace(image, image.convert(rich))
    # reducing_gap: a fast integer `reduce` first, then LANCZOS over the last 3× or less.
    return _replace(image, image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0))


def _has_alpha(image: Image.Image) -> bool:
    if image.mode in ("LA", "RGBA"):
        extrema = cast(tuple[tuple[int, int], ...], image.getextrema())
        return extrema[-1][0] < 255  # an alpha channel that is opaque everywhere is dropped
    return image.has_transparency_data


def _for_format(
    image: Image.Image, fmt: str, icc: bytes | None
) -> tuple[Image.Image, bytes | None]:
    """Pixels in a mode the format stores, and the ICC profile if still valid for them."""
    if image.mode == "CMYK":
        image, icc = _cmyk_to_rgb(image, icc)
    image = _with_alpha(image, fmt) if _has_alpha(image) else _opaque(image, fmt)
    return image, _matching_icc(icc, image.mode)


def _with_alpha(image: Image.Image, fmt: str) -> Image.Image:
    if fmt == "jpeg":
        return _flatten_on_white(image)
    if fmt == "png":
        return image  # LA, RGBA, or P, L, RGB with a transparent colour: all stored by PNG
    return _replace(image, image.convert("RGBA"))


def _opaque(image: Image.Image, fmt: str) -> Image.Image:
    grey = "L" if image.mode in ("1", "L", "LA") else "RGB"
    if fmt == "png":
        mode = image.mode if image.mode in ("1", "L", "P", "RGB") else grey
    else:  # WebP has no grey mode; JPEG has no palette or 1-bit mode
        mode = grey if fmt == "jpeg" else "RGB"
    return image if mode == image.mode else _replace(image, image.convert(mode))


def _flatten_on_white(image: Image.Image) -> Image.Image:
    # JPEG has no alpha; white is what a product page shows behind a transparent image.
    grey = image.mode in ("L", "LA")
    with_alpha = _replace(image, image.convert("LA" if grey else "RGBA"))
    flat = Image.new("L" if grey else "RGB", with_alpha.size, _WHITE)
    flat.paste(with_alpha, mask=with_alpha)
    with_alpha.close()
    return flat


def _cmyk_to_rgb(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """RGB pixels through the image's own CMYK profile when it has one; they are then sRGB."""
    if icc is not None:
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            rgb = ImageCms.profileToProfile(image, profile, srgb, outputMode="RGB")
            return _replace(image, rgb), None
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: fall back to Pillow's plain formula
    return _replace(image, image.convert("RGB")), None


def _matching_icc(icc: bytes | None, mode: str) -> bytes | None:
    """A profile only for pixels of its own colour space (bytes 16..20 of the ICC header)."""
    space = b"GRAY" if mode in ("1", "L", "LA") else b"RGB "
    return icc if icc is not None and icc[16:20] == space else None


# Encoding


def _encode(
    image: Image.Image, fmt: str, quality: int, icc: bytes | None, tuned: bool = False
) -> Compressed:
    """Encode `image` as `fmt`, closing it (and any converted copy) when done."""
    try:
        image, icc = _for_format(image, fmt, icc)
        if fmt == "webp":  # not Pillow's saver, which needs far more memory (actors.webp)
            width, height = image.size
            return Compressed(webp.encode(image, quality, icc), fmt, width, height, quality)
        _forget_metadata(image, fmt)
        out = io.BytesIO()
        image.save(out, **save_options(fmt, quality, icc, tuned))
        used = None if fmt == "png" else quality
        return Compressed(out.getvalue(), fmt, image.width, image.height, used)
    finally:
        image.close()


def _forget_metadata(image: Image.Image, fmt: str) -> None:
    # Pillow's savers take some defaults from `info` (the JPEG comment, PNG and AVIF ICC
    # profiles); keep only what the pixels need: a PNG's transparent colour or palette alpha.
    kept = image.info.get("transparency") if fmt == "png" else None
    image.info = {} if kept is None else {"transparency": kept}
