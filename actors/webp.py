"""Lossy WebP encoding in about half the memory Pillow's own saver takes.

Pillow's saver copies the image into libwebp's 4-bytes-per-pixel ARGB picture, which libwebp then
converts to YUV, while Pillow's own copy (also 4 bytes per pixel) stays alive: a 24 MP photo
peaks at ~260 MiB over the decoded JPEG's start, more than a worker's whole budget (issue 4).
Here the pixels are packed once, strip by strip, into a 3- or 4-bytes-per-pixel buffer; the
Pillow image is closed; then libwebp's simple API (`WebPEncodeRGB(A)`) imports the buffer
straight into YUV. Peak: the image plus the packed buffer, ~160 MiB at 24 MP.

libwebp is the copy Pillow itself links (found through Pillow's `_webp` module), so the encoder
is the same one, at the settings Pillow's saver uses for us: libwebp's default preset, method
4. An ICC profile is added to the container here, as Pillow's saver would (VP8X + ICCP chunks).
"""

from __future__ import annotations

import ctypes
from typing import Any

from PIL import Image, _webp

_STRIP_ROWS = 128  # rows packed at a time: a 6000-pixel-wide strip is ~3 MiB
_ICC_FLAG = 0x20  # VP8X flags: bit 5, "has an ICC profile"

_libwebp = ctypes.CDLL(_webp.__file__)  # dlsym looks in its dependencies: Pillow's libwebp
_ENCODERS = {"RGB": _libwebp.WebPEncodeRGB, "RGBA": _libwebp.WebPEncodeRGBA}
for _encoder in _ENCODERS.values():
    # size_t WebPEncodeRGB(const uint8_t* rgb, int width, int height, int stride,
    #                      float quality_factor, uint8_t** output)
    _encoder.argtypes = [
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_float,
        ctypes.POINTER(ctypes.c_void_p),
    ]
    _encoder.restype = ctypes.c_size_t
_libwebp.WebPFree.argtypes = [ctypes.c_void_p]
_libwebp.WebPFree.restype = None


def encode(image: Image.Image, quality: int, icc_profile: bytes | None) -> bytes:
    """`image` (RGB or RGBA) as lossy WebP; the image is closed, its pixels freed, on the way."""
    width, height, mode = image.width, image.height, image.mode
    packed = _packed(image)
    image.close()  # the caller's copy of the pixels goes before the encoder's memory comes
    data = _encode_packed(packed, mode, width, height, quality)
    del packed
    return _with_icc(data, icc_profile, width, height) if icc_profile else data


def _packed(image: Image.Image) -> bytearray:
    """The pixels as one contiguous RGB or RGBA buffer, made a strip at a time (Pillow's
    `tobytes` would hold the whole image twice more while it joins its pieces)."""
    row = image.width * len(image.mode)
    packed = bytearray(row * image.height)
    for top in range(0, image.height, _STRIP_ROWS):
        bottom = min(top + _STRIP_ROWS, image.height)
        strip = image.crop((0, top, image.width, bottom))
        packed[top * row : bottom * row] = strip.tobytes()
        strip.close()
    return packed


def _encode_packed(packed: bytearray, mode: str, width: int, height: int, quality: int) -> bytes:
    pixels: Any = (ctypes.c_uint8 * len(packed)).from_buffer(packed)
    output = ctypes.c_void_p()
    stride = width * len(mode)
    size = _ENCODERS[mode](pixels, width, height, stride, float(quality), ctypes.byref(output))
    try:
        if size == 0 or output.value is None:
            raise ValueError(f"libwebp could not encode a {width}×{height} {mode} image")
        return ctypes.string_at(output.value, size)
    finally:
        del pixels  # the buffer may be resized or freed only once no ctypes view is left
        if output.value is not None:
            _libwebp.WebPFree(output)


# The container (https://developers.google.com/speed/webp/docs/riff_container)


def _with_icc(data: bytes, icc_profile: bytes, width: int, height: int) -> bytes:
    """The same WebP with an ICCP chunk, in the extended (VP8X) layout that requires."""
    chunks = _chunks(data)
    flags = _ICC_FLAG
    if chunks and chunks[0][0] == b"VP8X":  # already extended (alpha): keep its flags
        flags |= chunks.pop(0)[1][0]
    header = bytes([flags, 0, 0, 0]) + _uint24(width - 1) + _uint24(height - 1)
    body = _chunk(b"VP8X", header) + _chunk(b"ICCP", icc_profile)
    body += b"".join(_chunk(fourcc, payload) for fourcc, payload in chunks)
    return b"RIFF" + (4 + len(body)).to_bytes(4, "little") + b"WEBP" + body


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("libwebp's output is not a RIFF WEBP file")
    found, position = [], 12
    while position + 8 <= len(data):
        fourcc = data[position : position + 4]
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        found.append((fourcc, data[position + 8 : position + 8 + size]))
        position += 8 + size + (size & 1)  # payloads are padded to an even length
    return found


def _chunk(fourcc: bytes, payload: bytes) -> bytes:
    padding = b"\0" if len(payload) & 1 else b""
    return fourcc + len(payload).to_bytes(4, "little") + payload + padding


def _uint24(value: int) -> bytes:
    return value.to_bytes(3, "little")
