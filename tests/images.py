"""Test images as bytes: the real photographs in tests/assets, and small images made to order.

Every helper returns encoded bytes, as a download would; `open_image` decodes them again.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

from PIL import Image

ASSETS = Path(__file__).parent / "assets"
PHOTO_SUFFIXES = (".jpg", ".png")
RED = (255, 0, 0)
EXIF_ORIENTATION = 0x0112
PALETTE_COLOURS = 64
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'


def list_photos() -> list[str]:
    """File names of the real photographs, e.g. ["astronaut.jpg", ...], sorted."""
    return sorted(p.name for p in ASSETS.iterdir() if p.suffix in PHOTO_SUFFIXES)


def photo_path(name: str) -> Path:
    return ASSETS / name


def photo_bytes(name: str) -> bytes:
    """The checked-in file as it is, metadata included."""
    return photo_path(name).read_bytes()


def open_image(data: bytes) -> Image.Image:
    """Decode bytes fully (so that a broken file fails here, not later)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def photo_as(
    name: str,
    fmt: str,
    *,
    mode: str | None = None,
    size: tuple[int, int] | None = None,
    **save: Any,
) -> bytes:
    """A photograph re-encoded as `fmt` ("JPEG", "WEBP", "GIF", ...), optionally converted to
    `mode` and resized to `size`; `save` goes to Pillow (quality, exif, xmp, icc_profile, ...)."""
    with Image.open(photo_path(name)) as source:
        image = source.convert(mode or "RGB")
    if size:
        image = image.resize(size)
    return encode(image, fmt, **save)


def encode(image: Image.Image, fmt: str, **save: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def palette_photo(name: str, fmt: str, mode: str = "P") -> bytes:
    """A photograph reduced to 64 dithered colours, as GIF-era product shots are, saved as
    `fmt` in `mode`: "P" (a palette), or "RGB" (the same 64 colours in 24 bits)."""
    with Image.open(photo_path(name)) as source:
        image = source.convert("RGB").quantize(PALETTE_COLOURS)
    return encode(image.convert(mode), fmt)


def transparent_gif(name: str, hole: tuple[int, int, int, int]) -> bytes:
    """A photograph as a 63-colour GIF whose rectangle `hole` is the transparent entry."""
    with Image.open(photo_path(name)) as source:
        image = source.convert("RGB").quantize(PALETTE_COLOURS - 1)
    image.paste(PALETTE_COLOURS - 1, hole)  # the entry after the photo's own colours
    return encode(image, "GIF", transparency=PALETTE_COLOURS - 1)


def photo_with_hole(name: str, fmt: str, hole: tuple[int, int, int, int]) -> bytes:
    """A photograph as RGBA, opaque but for the fully transparent rectangle `hole`."""
    with Image.open(photo_path(name)) as source:
        image = source.convert("RGBA")
    image.paste((0, 0, 0, 0), hole)
    return encode(image, fmt)


def make_png_rgba(width: int, height: int) -> bytes:
    """An RGBA PNG: opaque red on the left half, fully transparent black on the right half."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    image.paste((*RED, 255), (0, 0, width // 2, height))
    return encode(image, "PNG")


def make_png_palette_transparent(width: int, height: int) -> bytes:
    """A palette PNG whose left half is red and right half is the transparent palette entry."""
    image = Image.new("P", (width, height), 0)
    image.putpalette([0, 0, 0, *RED])
    image.paste(1, (0, 0, width // 2, height))
    return encode(image, "PNG", transparency=0)


def jpeg_with_orientation(orientation: int, name: str = "rocket.jpg") -> bytes:
    """A real photograph, its stored top-left corner painted pure red, with EXIF `orientation`
    (6: shown rotated 90° clockwise, so the red corner appears top right; 8: bottom left)."""
    with Image.open(photo_path(name)) as image:
        rgb = image.convert("RGB")
    rgb.paste(RED, (0, 0, rgb.width // 8, rgb.height // 8))
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    return encode(rgb, "JPEG", quality=90, exif=exif.tobytes())


def png_16bit_grey(name: str = "astronaut.jpg") -> bytes:
    """A photograph as a 16-bit greyscale PNG (Pillow mode I;16), full 0..65535 range."""
    with Image.open(photo_path(name)) as image:
        wide = image.convert("L").convert("I").point(lambda value: value * 257)
    return encode(wide.convert("I;16"), "PNG")


def png_claiming_size(width: int, height: int) -> bytes:
    """A 1×1 PNG whose header says `width`×`height`: a decompression bomb's first bytes."""
    data = bytearray(encode(Image.new("L", (1, 1)), "PNG"))
    ihdr = 8  # after the signature: length(4), "IHDR"(4), width(4), height(4), ...
    struct.pack_into(">II", data, ihdr + 8, width, height)
    crc = zlib.crc32(data[ihdr + 4 : ihdr + 8 + 13])
    struct.pack_into(">I", data, ihdr + 8 + 13, crc)
    return bytes(data)


def animated_gif(colours: tuple[tuple[int, int, int], ...] = (RED, (0, 0, 255))) -> bytes:
    """A 32×24 animated GIF, one flat frame per colour."""
    frames = [Image.new("RGB", (32, 24), colour) for colour in colours]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


# Hostile inputs (issue 3): what a stranger's origin may serve as an "image".


def cmyk_jpeg(name: str = "astronaut.jpg") -> bytes:
    """A photograph saved as a CMYK JPEG (as print workflows export them)."""
    return photo_as(name, "JPEG", mode="CMYK", quality=90)


def truncated_jpeg(name: str = "retina.jpg") -> bytes:
    """The first half of a real JPEG: a download cut off mid-scan."""
    data = photo_bytes(name)
    return data[: len(data) // 2]


def corrupt_png(name: str = "chelsea.png") -> bytes:
    """A real PNG whose header is intact but whose first IDAT chunk is scrambled."""
    data = bytearray(photo_bytes(name))
    start = data.index(b"IDAT") + 4 + 100
    for pos in range(start, start + 300):
        data[pos] ^= 0x5A
    return bytes(data)


def jpeg_claiming_size(width: int, height: int) -> bytes:
    """A small baseline JPEG whose frame header (SOF0) says `width`×`height` (each < 65536)."""
    data = bytearray(encode(Image.new("RGB", (8, 8), RED), "JPEG"))
    sof = data.index(b"\xff\xc0")  # marker(2), length(2), precision(1), height(2), width(2)
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def png_with_text_bomb(inflated_bytes: int) -> bytes:
    """A valid 1×1 PNG carrying, before its pixels, a zTXt chunk that inflates to
    `inflated_bytes` bytes: a decompression bomb in the metadata rather than the pixels."""
    data = encode(Image.new("L", (1, 1)), "PNG")
    payload = b"Comment\0\0" + zlib.compress(bytes(inflated_bytes), 9)
    chunk = b"zTXt" + payload
    packed = struct.pack(">I", len(payload)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    idat = data.index(b"IDAT") - 4  # the chunk's length field
    return data[:idat] + packed + data[idat:]


def ico_wrapping(png: bytes) -> bytes:
    """A Windows icon whose one 256×256 entry holds `png`, whatever that PNG's own size."""
    directory = struct.pack("<HHH", 0, 1, 1)  # reserved, type 1 (icon), one entry
    # width and height 0 (= 256), no palette, reserved, 1 plane, 32 bits, size, offset
    entry = struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(png), 6 + 16)
    return directory + entry + png
