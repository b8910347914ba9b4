"""Output formats: which one to write, how to save it, and metadata removal without re-encoding."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

FORMAT_EXTENSIONS: dict[str, str] = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}
# What a job may ask for, in the order the API and the CLI list them.
ORIGINAL: Final = "original"
REQUESTABLE_FORMATS = (ORIGINAL, "auto", "jpeg", "webp", "avif", "png")

# `format=auto` and `quality=auto` (actors.autotune does the choosing).
AUTO: Final = "auto"  # Final: typed Literal["auto"], as JobOptions.quality is
AUTO_FORMATS = ("avif", "webp", "jpeg", "png")  # what `accept` may list
DEFAULT_ACCEPT = ("avif", "webp", "jpeg")
LOSSY = frozenset({"avif", "webp", "jpeg"})
# What the seed's output (Pillow JPEG, quality 50) scores on typical photos: the median over the
# repo's six photos (48-70), and issue 4's average. The benchmark's mosaics score lower (~59).
DEFAULT_TARGET = 66.0

# The longest side each output format can store: WebP's sizes are 14-bit, libjpeg refuses more
# than its JPEG_MAX_DIMENSION, libaom 65536 (measured through Pillow 13). An image within the
# pixel limit can still be a 70000x10 banner.
MAX_SIDES = {"jpeg": 65_500, "webp": 16_383, "avif": 65_536, "png": 2**31 - 1}

# Pillow's format names for the inputs that `original` keeps. MPO is how Pillow names the JPEGs
# many phone cameras write (a JPEG with extra pictures appended): still a JPEG to us.
_KEPT_INPUTS = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "WEBP": "webp", "AVIF": "avif"}

# What `Image.open` may try. Only plain raster formats: EPS would start Ghostscript, and formats
# without a real signature (TGA, ...) would claim random bytes. MPO files open through "JPEG".
# Not ICO: Pillow decodes an icon's largest image inside `Image.open`, before the pixel limit
# can be checked, and the PNG inside may be far larger than the icon's directory says, so a
# small .ico could make a worker allocate gigabytes (Pillow's own bomb check is off, see
# actors.imaging).
INPUT_FORMATS = ("JPEG", "PNG", "WEBP", "AVIF", "GIF", "BMP", "TIFF", "PPM")

# Measured on 0.3-2 MP photos: speed 8 is about twice as fast as 7 and four to eight times as
# fast as the default 6, for files 1-5 % larger; below 6 it takes seconds.
AVIF_SPEED = 8

# Quantisation tables for the JPEGs that `quality=auto` writes: jpegli's tables at its quality 50
# (natural order, luma then chroma; read from a pyjpegli 0.3.2 output, which builds them from
# jpegli's perceptual model), scaled for other qualities with libjpeg's own formula. Through
# Pillow (libjpeg-turbo, progressive, optimised Huffman) they give ~0.89x the bytes of the
# standard tables at equal SSIMULACRA2 on the test photos, at the same encoding time; jpegli's
# own encoder (adaptive quantisation) does little better unless its output is re-optimised by
# mozjpeg, which costs ~3x the encoding time (measured for issue 4, see ops/bench/bytes.py).
JPEGLI_TABLES_Q50 = (
    (12, 10, 20, 21, 33, 34, 37, 38, 10, 14, 20, 23, 34, 31, 39, 39,
     20, 20, 24, 27, 34, 38, 37, 41, 21, 23, 27, 33, 41, 42, 42, 45,
     33, 34, 34, 41, 45, 48, 54, 54, 34, 31, 38, 42, 48, 53, 50, 59,
     37, 39, 37, 42, 54, 50, 53, 53, 38, 39, 41, 45, 54, 59, 53, 43),
    (12, 8, 17, 16, 26, 24, 29, 31, 8, 13, 17, 17, 24, 21, 27, 28,
     17, 17, 20, 18, 22, 25, 26, 30, 16, 17, 18, 21, 27, 24, 26, 31,
     26, 24, 22, 27, 21, 31, 24, 30, 24, 21, 25, 24, 31, 27, 31, 46,
     29, 27, 26, 26, 24, 31, 49, 45, 31, 28, 30, 31, 30, 46, 45, 255),
)  # fmt: skip

_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0..7: no length field
_JPEG_RESTARTS = range(0xD0, 0xD8)
_JPEG_EOI, _JPEG_SOS, _JPEG_COM = 0xD9, 0xDA, 0xFE
_JPEG_APP0, _JPEG_APP1, _JPEG_APP2, _JPEG_APP14, _JPEG_APP15 = 0xE0, 0xE1, 0xE2, 0xEE, 0xEF
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_METADATA = frozenset({b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"})


def input_format(pillow_format: str | None) -> str | None:
    """Our name for an input's format when `original` keeps it, else None (a legacy input)."""
    return _KEPT_INPUTS.get(pillow_format or "")


def legacy_outputs(photograph: bool) -> tuple[str, ...]:
    """What `original` may write for a legacy input (GIF, BMP, TIFF, PPM: no output format
    stores them), the smallest output to be kept. PNG stores any of them faithfully, alpha and
    palette included. An opaque photograph may also become JPEG: as PNG, a photo is 13-20 times
    its JPEG at quality 50 (the test photos), and a JPEG-compressed TIFF several times its
    download (issue 9: 213 kB became 1.5 MB). PNG comes first: a tie keeps the lossless one."""
    return ("png", "jpeg") if photograph else ("png",)


def fits(fmt: str, size: tuple[int, int]) -> bool:
    return max(size) <= MAX_SIDES[fmt]


def save_options(
    fmt: str, quality: int, icc_profile: bytes | None, tuned: bool = False
) -> dict[str, Any]:
    """Pillow `save` arguments for JPEG, PNG and AVIF. Nothing but the ICC profile is carried
    over (no EXIF/XMP).

    `tuned` (the `quality=auto` path) swaps JPEG's standard tables for jpegli's: a numeric
    quality keeps meaning what libjpeg's scale has always meant.
    """
    if fmt == "jpeg":
        extra: dict[str, Any] = {"optimize": True, "progressive": True}
        if tuned:  # scaled here, capped at 255: Pillow would scale them past 8-bit tables
            extra["qtables"] = [scaled_table(table, quality) for table in JPEGLI_TABLES_Q50]
        else:
            extra["quality"] = quality
    elif fmt == "png":
        # Lossless, so quality has no meaning. optimize=True (zlib level 9 plus filter
        # search) costs ~6x the time of level 6 on photos for ~5% fewer bytes.
        extra = {"compress_level": 6}
    elif fmt == "avif":
        extra = {"quality": quality, "speed": AVIF_SPEED}
    else:  # WebP is written by actors.webp
        raise ValueError(f"no Pillow save options for {fmt!r}")
    # Given explicitly because PNG and AVIF would otherwise fall back to `Image.info`.
    return {"format": fmt.upper(), "icc_profile": icc_profile, **extra}


def scaled_table(table: tuple[int, ...], quality: int) -> list[int]:
    """libjpeg's quality scaling (jcparam.c): 50 keeps the table, 100 makes it all ones."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return [min(255, max(1, (value * scale + 50) // 100)) for value in table]


def strip_metadata(data: bytes, fmt: str) -> bytes:
    """The same image without EXIF, XMP and comments, ICC kept; other formats are unchanged."""
    if fmt == "jpeg":
        return _strip_jpeg(data)
    if fmt == "png":
        return _strip_png(data)
    return data


def _strip_jpeg(data: bytes) -> bytes:
    try:
        segments = list(_jpeg_segments(data))
    except ValueError:
        return data  # not the structure we expect: leave the file alone
    heads = ((data[start:end], data[start + 4 : start + 20]) for start, end in segments)
    return b"".join(segment for segment, head in heads if _keep_jpeg_segment(segment[1], head))


def _jpeg_segments(data: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of each marker segment, a SOS segment running to the end of its scan."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("no SOI marker")
    yield 0, 2
    pos = 2
    while pos + 2 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # a fill byte before the marker
            pos += 1
            continue
        end = pos + 2
        if marker not in _JPEG_STANDALONE and marker != _JPEG_EOI:
            end += int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == _JPEG_SOS:
            end = _end_of_scan(data, end)
        yield pos, end
        if marker == _JPEG_EOI:
            return  # what follows (MPO pictures, vendor trailers) is not part of the image
        pos = end
    raise ValueError("no EOI marker")


def _end_of_scan(data: bytes, pos: int) -> int:
    """Where entropy-coded data ends: at the first marker other than RSTn (0xFF is sent as FF00)."""
    while (pos := data.find(b"\xff", pos)) >= 0 and pos + 1 < len(data):
        if data[pos + 1] != 0x00 and data[pos + 1] not in _JPEG_RESTARTS:
            return pos
        pos += 2
    raise ValueError("unterminated scan")


def _keep_jpeg_segment(marker: int, head: bytes) -> bool:
    if marker == _JPEG_APP0:
        return head.startswith(b"JFIF\0")  # JFXX carries a thumbnail
    if marker == _JPEG_APP2:
        return head.startswith(b"ICC_PROFILE\0")  # not MPF, whose offsets we cut away
    if marker == _JPEG_APP14:
        return True  # Adobe: says how to read the colour channels
    return not (_JPEG_APP1 <= marker <= _JPEG_APP15 or marker == _JPEG_COM)


def _strip_png(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        return data
    kept, pos = [_PNG_SIGNATURE], len(_PNG_SIGNATURE)
    while pos + 12 <= len(data):
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + int.from_bytes(data[pos : pos + 4], "big")
        if kind not in _PNG_METADATA:
            kept.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            break
    return b"".join(kept)
