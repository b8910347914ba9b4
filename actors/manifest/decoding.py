"""Bytes to text: an upload must be UTF-8 (a UTF-8 byte order mark allowed), not another
encoding nor a binary file; a refusal names the offending byte, its offset and its line.

`check_stream` reads the file in bounded chunks and answers as a decode of the whole file
would: the first bad byte is named, unless a NUL byte anywhere says the file is binary.
"""

from __future__ import annotations

import codecs
from typing import BinaryIO

from actors.manifest.errors import ManifestError, invalid

# What check_stream (so the reader, when it opens a file) reads at a time.
_CHUNK_BYTES = 256 * 1024
_OTHER_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
# What people upload by mistake instead of a CSV, recognised by the first bytes.
_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook?)"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (an .xls workbook?)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
)


def check_stream(raw: BinaryIO) -> None:
    """Refuse a file that is empty, in another encoding, binary or not UTF-8, in that order."""
    chunk = raw.read(_CHUNK_BYTES)
    if len(chunk) < _CHUNK_BYTES:  # the whole file
        _refuse_empty(chunk)
    _refuse_other_encodings(chunk)
    _refuse_magic(chunk)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = breaks = 0  # where `chunk` starts, and the line breaks before it
    after_cr = False  # the byte before `chunk` is a CR (a CRLF split in two is one break)
    not_utf8: ManifestError | None = None  # raised only if no NUL byte follows: binary wins
    while chunk:
        nul = chunk.find(b"\x00")
        if nul >= 0:
            raise _holds_nul(offset + nul, breaks + _breaks(chunk[:nul], after_cr) + 1)
        if not_utf8 is None:
            pending = len(decoder.getstate()[0])  # a sequence begun in the previous chunk
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                # A pending sequence holds no line break: its bytes are all >= 0x80.
                within = max(error.start - pending, 0)
                line = breaks + _breaks(chunk[:within], after_cr) + 1
                not_utf8 = _not_utf8(
                    error.object[error.start], offset - pending + error.start, line
                )
        breaks += _breaks(chunk, after_cr)
        after_cr = chunk.endswith(b"\r")
        offset += len(chunk)
        chunk = raw.read(_CHUNK_BYTES)
    if not_utf8 is None:
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as error:
            not_utf8 = _not_utf8(
                error.object[error.start], offset - pending + error.start, breaks + 1
            )
    if not_utf8 is not None:
        raise not_utf8


def _not_utf8(byte: int, offset: int, line: int) -> ManifestError:
    return invalid(
        f"the file is not UTF-8: byte 0x{byte:02x} at offset {offset} (line {line}) cannot be "
        'decoded; save it as UTF-8 (in Excel: "CSV UTF-8") and upload it again'
    )


def _refuse_empty(data: bytes) -> None:
    if not data or data == codecs.BOM_UTF8:
        raise invalid("the file is empty")


def _refuse_other_encodings(data: bytes) -> None:
    for bom, encoding in _OTHER_BOMS:
        if data.startswith(bom):
            raise invalid(
                f"the file is not UTF-8: it starts with a {encoding} byte order mark; "
                "save it as UTF-8 and upload it again"
            )


def _refuse_magic(data: bytes) -> None:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            raise invalid(f"the file looks binary, not a CSV: it starts like {kind}")


def _holds_nul(offset: int, line: int) -> ManifestError:
    return invalid(
        f"the file looks binary, not a CSV: it holds a NUL byte at offset {offset} (line {line})"
    )


def _breaks(data: bytes, after_cr: bool) -> int:
    """Line breaks in `data` as the CSV reader counts them: LF, CRLF and a lone CR."""
    count = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    return count - 1 if after_cr and data.startswith(b"\n") else count
