"""Pixels to an output format's bytes, with the facts of what was written (`Compressed`)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from actors import webp
from actors.formats import save_options
from actors.imaging.pixels import for_format


@dataclass(frozen=True)
class Compressed:
    data: bytes
    format: str  # "jpeg" | "png" | "webp" | "avif": the output's format
    width: int  # the output's size
    height: int
    quality: int | None = None  # the quality encoded at; None for PNG and kept originals


def encode(
    image: Image.Image, fmt: str, quality: int, icc: bytes | None, tuned: bool = False
) -> Compressed:
    """Encode `image` as `fmt`, closing it (and any converted copy) when done."""
    try:
        image, icc = for_format(image, fmt, icc)
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
