"""Pixels as a viewer sees them: what the fast score compares, on both sides."""

from __future__ import annotations

import io

from PIL import Image


def visible(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited on white (as the JPEG output is flattened)."""
    if image.mode == "RGB":
        return image
    if "A" in image.mode or image.info.get("transparency") is not None:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba)
        return flat
    return image.convert("RGB")


def decoded(data: bytes) -> Image.Image:
    """Encoded bytes back to pixels, decoded now rather than lazily on first use."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
