"""Pixel modes: decoded pixels brought to 8 bits, and to a mode each output format stores;
whether they are a photograph, which JPEG may store.

Full-size images are large, so every step closes the image it replaces at once.
"""

from __future__ import annotations

import io
from typing import cast

from PIL import Image, ImageCms

_MODES_KEPT = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "CMYK"})
_WHITE = "white"
# An image with at most this many colours is a graphic (a logo, a chart, a GIF saved again as
# 24-bit): it fits a palette, and PNG stores it exactly, where JPEG would blur its edges.
_GRAPHIC_COLOURS = 256
# Grey has only 256 levels, and photos and antialiased text alike use most of them (191-256 on
# the test photos, 253 for black text on white), so counting tells them apart only when the
# image is posterised to 4 bits. Grey text and line art are left to the size comparison: mostly
# flat, they come out smaller as PNG (black text on white, 800×400: 27 kB, as JPEG q50 35 kB).
_GRAPHIC_GREYS = 16


def replace(old: Image.Image, new: Image.Image | None) -> Image.Image:
    """`new` in place of `old`, freeing `old` at once: full-size images are large."""
    if new is None or new is old:
        return old
    old.close()
    return new


def to_8bit(image: Image.Image) -> Image.Image:
    if image.mode in _MODES_KEPT:
        return image
    if image.mode.startswith("I;16"):
        return replace(image, image.convert("I").point(lambda value: value / 256).convert("L"))
    if image.mode in ("I", "F"):
        return replace(image, _stretch_to_8bit(image))
    has_alpha = "A" in image.mode or image.has_transparency_data
    return replace(image, image.convert("RGBA" if has_alpha else "RGB"))


def _stretch_to_8bit(image: Image.Image) -> Image.Image:
    # 32-bit integer and float pixels have no agreed white: map their own range to 0..255.
    low, high = cast(tuple[float, float], image.getextrema())
    scale = 255 / (high - low) if high > low else 1.0
    return image.point(lambda value: (value - low) * scale).convert("L")


def resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if image.mode in ("1", "P"):  # Pillow resizes these with NEAREST only
        rich = "L" if image.mode == "1" else "RGBA" if image.has_transparency_data else "RGB"
        image = replace(image, image.convert(rich))
    # reducing_gap: a fast integer `reduce` first, then LANCZOS over the last 3× or less.
    return replace(image, image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0))


def for_format(image: Image.Image, fmt: str, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """Pixels in a mode the format stores, and the ICC profile if still valid for them."""
    if image.mode == "CMYK":
        image, icc = _cmyk_to_rgb(image, icc)
    image = _with_alpha(image, fmt) if _has_alpha(image) else _opaque(image, fmt)
    return image, _matching_icc(icc, image.mode)


def is_photograph(image: Image.Image) -> bool:
    """Whether JPEG can store `image` faithfully: opaque, and in continuous tone. Those with few
    colours are graphics, palette and 1-bit images (every GIF, a palette BMP) among them."""
    if _has_alpha(image):
        return False
    few = _GRAPHIC_GREYS if image.mode in ("L", "LA") else _GRAPHIC_COLOURS
    return image.getcolors(few) is None  # None: more than `few` (it stops counting there)


def _has_alpha(image: Image.Image) -> bool:
    if image.mode in ("LA", "RGBA"):
        extrema = cast(tuple[tuple[int, int], ...], image.getextrema())
        return extrema[-1][0] < 255  # an alpha channel that is opaque everywhere is dropped
    return image.has_transparency_data


def _with_alpha(image: Image.Image, fmt: str) -> Image.Image:
    if fmt == "jpeg":
        return _flatten_on_white(image)
    if fmt == "png":
        return image  # LA, RGBA, or P, L, RGB with a transparent colour: all stored by PNG
    return replace(image, image.convert("RGBA"))


def _opaque(image: Image.Image, fmt: str) -> Image.Image:
    grey = "L" if image.mode in ("1", "L", "LA") else "RGB"
    if fmt == "png":
        mode = image.mode if image.mode in ("1", "L", "P", "RGB") else grey
    else:  # WebP has no grey mode; JPEG has no palette or 1-bit mode
        mode = grey if fmt == "jpeg" else "RGB"
    return image if mode == image.mode else replace(image, image.convert(mode))


def _flatten_on_white(image: Image.Image) -> Image.Image:
    # JPEG has no alpha; white is what a product page shows behind a transparent image.
    grey = image.mode in ("L", "LA")
    with_alpha = replace(image, image.convert("LA" if grey else "RGBA"))
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
            return replace(image, rgb), None
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: fall back to Pillow's plain formula
    return replace(image, image.convert("RGB")), None


def _matching_icc(icc: bytes | None, mode: str) -> bytes | None:
    """A profile only for pixels of its own colour space (bytes 16..20 of the ICC header)."""
    space = b"GRAY" if mode in ("1", "L", "LA") else b"RGB "
    return icc if icc is not None and icc[16:20] == space else None
