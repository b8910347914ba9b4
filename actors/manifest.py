"""The uploaded CSV read into products and image slots (contract §2).

Pure: bytes in, a `Manifest` out, or a `ManifestError` that says what is wrong and where.
`summarise_file` applies the same checks to a stored file read in bounded chunks and keeps only
the counts (the API's needs), so its memory does not grow with the file.
Decisions the contract leaves open:
- Blank records (every cell empty after trimming) are not data rows: they are neither processed
  nor reported nor counted against the row limit, but they keep their place in the row
  numbering, as a spreadsheet shows them. Blank lines before the header are allowed.
- Quoting is RFC 4180 and strict (an unclosed quote or text after a closing quote is a 400
  naming the row), except that spaces between a delimiter and an opening quote are skipped, as
  the seed's own sample (`S. No, Product Name, Input URLs`) is written in that style.
- When several header cells match a role, the most specific alias wins ("Product Name" over
  "Name"), then the leftmost column.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import BinaryIO, TextIO
from urllib.parse import urlsplit

from actors.errors import PipelineError

# A cell is bounded by IMGPRESS_MAX_CSV_BYTES, not by the csv module's 128 KiB default.
csv.field_size_limit(2**31 - 1)

# Friendly spellings, shown in error messages; matching uses their normalised form.
PRODUCT_NAMES = ("Product Name", "Product", "Name")
URL_NAMES = ("Input URLs", "Input Image URLs", "Image URLs", "URLs", "Image URL", "URL")
SERIAL_NAMES = ("S. No", "Serial Number", "Serial", "ID")

NO_PRODUCT = "no product name"
NO_URL = "no URL"

_DELIMITERS = (",", ";", "\t")  # also the preference order when counts tie
_NAME_NOISE = str.maketrans("", "", " ._-")
_BAD_URL_CHARS = re.compile(r"[\s\x00-\x1f\x7f]")
# The common shape (scheme, plain host name, then a path, query or fragment) is accepted
# without urlsplit, which costs several times more and would dominate a large file.
_PLAIN_URL = re.compile(
    r"https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*(?:[/?#][^\s\x00-\x1f\x7f]*)?", re.IGNORECASE
)
# A line holding nothing but spaces and delimiters: a blank record, skipped before the header.
_BLANK_LINE = re.compile(r"(?:[^\S\r\n]|[,;])*(?:\r\n?|\n)")
# An unclosed quote in the header must not make us scan a 20 MB file character by character.
_HEADER_SCAN_LIMIT = 65536
_SHOWN_COLUMNS = 20
# What summarise_file reads at a time.
_CHUNK_BYTES = 256 * 1024
# The part of a blank line seen before its line end (see _BLANK_LINE).
_BLANK_PART = re.compile(r"(?:[^\S\r\n]|[,;])*")
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


class ManifestError(PipelineError):
    """Raised when an uploaded CSV cannot be accepted; carries the HTTP status (400 or 413),
    a title and a precise description."""

    def __init__(self, status: int, title: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.title = title
        self.description = description


@dataclass(frozen=True, slots=True)
class Slot:
    """One URL position of a valid row: one image of the job."""

    row: int
    position: int
    url: str
    valid: bool


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: its raw cells, its product and its image slots, or why it is skipped."""

    number: int
    cells: tuple[str, ...]
    product: str
    slots: tuple[Slot, ...]
    skip_reason: str | None


@dataclass(frozen=True, slots=True)
class Columns:
    """What the header says: the delimiter, the trimmed header cells and where each role is."""

    delimiter: str
    header: tuple[str, ...]
    product: int
    url: int
    serial: int | None


@dataclass(frozen=True, slots=True)
class Manifest:
    """Every data row of an accepted CSV, in order, skipped ones included."""

    delimiter: str
    header: tuple[str, ...]
    product_column: int
    url_column: int
    serial_column: int | None
    rows: tuple[Row, ...]

    @property
    def slots(self) -> list[Slot]:
        return [slot for row in self.rows for slot in row.slots]

    @property
    def skipped(self) -> list[Row]:
        return [row for row in self.rows if row.skip_reason]

    def distinct_urls(self) -> list[str]:
        return list(dict.fromkeys(slot.url for slot in self.slots if slot.valid))

    def invalid_urls(self) -> list[str]:
        return list(dict.fromkeys(slot.url for slot in self.slots if not slot.valid))

    @property
    def total_slots(self) -> int:
        return sum(len(row.slots) for row in self.rows)

    def skipped_rows(self) -> list[tuple[int, str]]:
        return [(row.number, row.skip_reason) for row in self.rows if row.skip_reason]


@dataclass(frozen=True, slots=True)
class ManifestSummary:
    """What an accepted CSV holds, counted: its columns, its data rows (skipped ones included),
    its image slots and the skipped rows with their reasons."""

    columns: Columns
    rows: int
    total_slots: int
    skipped: list[tuple[int, str]]

    def skipped_rows(self) -> list[tuple[int, str]]:
        return list(self.skipped)


def parse_manifest(data: bytes, *, max_rows: int, max_images: int) -> Manifest:
    """Read an uploaded CSV, or raise `ManifestError` (400 malformed, 413 past a limit)."""
    columns, records = _open(data)
    rows = _build_rows(records, columns, max_rows)
    _check_images(sum(len(row.slots) for row in rows), max_images)
    return Manifest(
        columns.delimiter, columns.header, columns.product, columns.url, columns.serial, rows
    )


def summarise_file(path: Path, *, max_rows: int, max_images: int) -> ManifestSummary:
    """`parse_manifest`'s checks and counts on a stored file, or the same `ManifestError`; the
    file is read in bounded chunks and no row is kept, skipped rows' numbers and reasons aside."""
    with path.open("rb") as raw:
        _check_stream(raw)
    with path.open(encoding="utf-8-sig", newline="") as stream:
        delimiter = _stream_delimiter(stream)
    with path.open(encoding="utf-8-sig", newline="") as stream:
        columns, records = _header(_records(stream, delimiter), delimiter)
        rows = slots = 0
        skipped: list[tuple[int, str]] = []
        for number, cells in islice(records, max_rows):
            _, urls, reason = _outcome(cells, columns)
            rows += 1
            if reason:
                skipped.append((number, reason))
            else:
                slots += len(urls)
        _check_rows(rows + sum(1 for _ in records), max_rows)
    _check_images(slots, max_images)
    return ManifestSummary(columns, rows, slots, skipped)


def load_manifest(path: Path, *, max_rows: int, max_images: int) -> Manifest:
    """`parse_manifest` on a stored file."""
    return parse_manifest(path.read_bytes(), max_rows=max_rows, max_images=max_images)


def header_columns(data: bytes) -> Columns:
    """Check only the encoding and the header, e.g. to refuse an upload before storing it."""
    return _open(data)[0]


def is_fetchable_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host and nothing a request line cannot carry."""
    if _PLAIN_URL.fullmatch(url):
        return True
    if not url or _BAD_URL_CHARS.search(url):
        return False
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0  # .port raises on "host:abc"
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and port_ok


def normalise_name(cell: str) -> str:
    """A header cell as matched: case-folded, without spaces, dots, underscores or dashes."""
    return "".join(cell.casefold().translate(_NAME_NOISE).split())


_PRODUCT_KEYS = tuple(normalise_name(name) for name in PRODUCT_NAMES)
_URL_KEYS = tuple(normalise_name(name) for name in URL_NAMES)
_SERIAL_KEYS = tuple(normalise_name(name) for name in SERIAL_NAMES)
_ROLES = (("product", PRODUCT_NAMES), ("URL", URL_NAMES))


# --- bytes to text ---------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    _refuse_empty(data)
    _refuse_other_encodings(data)
    _refuse_binary(data)
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return str(memoryview(data)[start:], "utf-8")
    except UnicodeDecodeError as error:
        offset = start + error.start
        raise _not_utf8(data[offset], offset, _line_of(data, offset)) from None


def _not_utf8(byte: int, offset: int, line: int) -> ManifestError:
    return _invalid(
        f"the file is not UTF-8: byte 0x{byte:02x} at offset {offset} (line {line}) cannot be "
        'decoded; save it as UTF-8 (in Excel: "CSV UTF-8") and upload it again'
    )


def _refuse_empty(data: bytes) -> None:
    if not data or data == codecs.BOM_UTF8:
        raise _invalid("the file is empty")


def _refuse_other_encodings(data: bytes) -> None:
    for bom, encoding in _OTHER_BOMS:
        if data.startswith(bom):
            raise _invalid(
                f"the file is not UTF-8: it starts with a {encoding} byte order mark; "
                "save it as UTF-8 and upload it again"
            )


def _refuse_binary(data: bytes) -> None:
    _refuse_magic(data)
    nul = data.find(b"\x00")
    if nul >= 0:
        raise _holds_nul(nul, _line_of(data, nul))


def _refuse_magic(data: bytes) -> None:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            raise _invalid(f"the file looks binary, not a CSV: it starts like {kind}")


def _holds_nul(offset: int, line: int) -> ManifestError:
    return _invalid(
        f"the file looks binary, not a CSV: it holds a NUL byte at offset {offset} (line {line})"
    )


def _line_of(data: bytes, offset: int) -> int:
    # bytes.splitlines knows LF, CRLF and a lone CR, as the CSV reader does.
    before = data[:offset]
    complete = len(before.splitlines())
    return complete + 1 if not before or before.endswith((b"\n", b"\r")) else complete


def _check_stream(raw: BinaryIO) -> None:
    """`_decode`'s checks, in the same order, on a file read in bounded chunks."""
    chunk = raw.read(_CHUNK_BYTES)
    if len(chunk) < _CHUNK_BYTES:  # the whole file
        _refuse_empty(chunk)
    _refuse_other_encodings(chunk)
    _refuse_magic(chunk)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = breaks = 0  # where `chunk` starts, and the line breaks before it
    after_cr = False  # the byte before `chunk` is a CR (a CRLF split in two is one break)
    not_utf8: ManifestError | None = None  # raised only if no NUL byte follows, as _decode does
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


def _breaks(data: bytes, after_cr: bool) -> int:
    """Line breaks in `data` as _line_of counts them: LF, CRLF and a lone CR."""
    count = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    return count - 1 if after_cr and data.startswith(b"\n") else count


# --- text to records -------------------------------------------------------------------------


def _open(data: bytes) -> tuple[Columns, Iterator[tuple[int, list[str]]]]:
    """The header's columns, and an iterator over the non-blank records after it."""
    text = _decode(data)
    delimiter = _detect_delimiter(text)
    return _header(_records(io.StringIO(text, newline=""), delimiter), delimiter)


def _header(
    records: Iterator[tuple[int, list[str]]], delimiter: str
) -> tuple[Columns, Iterator[tuple[int, list[str]]]]:
    non_blank = (record for record in records if not _is_blank(record[1]))
    first = next(non_blank, None)
    if first is None:
        raise _invalid("the file is empty: it holds only blank lines")
    return _columns(delimiter, first[1]), non_blank


def _detect_delimiter(text: str) -> str:
    return _most_common(_count_delimiters(text, _header_start(text)))


def _stream_delimiter(stream: TextIO) -> str:
    """`_detect_delimiter` on a text stream, holding at most two scan limits of it."""
    head = ""  # the start of a line read so far, blank up to where the text ends
    while piece := stream.read(_HEADER_SCAN_LIMIT):
        text = head + piece
        rest = text[_header_start(text) :]
        if not _BLANK_PART.fullmatch(rest):  # the header line, or the first non-blank one
            more = stream.read(max(_HEADER_SCAN_LIMIT - len(rest), 0))
            return _most_common(_count_delimiters(rest + more, 0))
        # Only spaces and delimiters so far, which is all _count_delimiters would read of it
        # if it turns out to be the header line.
        head = rest[:_HEADER_SCAN_LIMIT]
    return _most_common(_count_delimiters(head, 0))


def _most_common(counts: dict[str, int]) -> str:
    most = max(counts.values())
    return next(delimiter for delimiter in _DELIMITERS if counts[delimiter] == most)


def _header_start(text: str) -> int:
    position = 0
    while match := _BLANK_LINE.match(text, position):
        position = match.end()
    return position


def _count_delimiters(text: str, start: int) -> dict[str, int]:
    """How often each delimiter occurs in the header line, outside quoted cells."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in text[start : start + _HEADER_SCAN_LIMIT]:
        if char == '"':
            quoted = not quoted  # a doubled quote toggles twice: still inside
        elif quoted:
            continue
        elif char in "\r\n":
            break
        elif char in counts:
            counts[char] += 1
    return counts


def _records(lines: Iterable[str], delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Every record with its spreadsheet row number; a quoted cell with line breaks is one row.
    `lines` keep their line ends (a StringIO or a file opened with newline="")."""
    reader = csv.reader(lines, delimiter=delimiter, strict=True, skipinitialspace=True)
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, cells
    except csv.Error as error:
        raise _invalid(_quoting_problem(number + 1, str(error))) from None


def _quoting_problem(row: int, message: str) -> str:
    if "unexpected end of data" in message:
        return f'row {row}: a quoted cell is never closed (a closing " is missing)'
    if "expected after" in message:
        return (
            f"row {row}: a quoted cell has text after its closing quote; "
            'a quote inside a quoted cell is written as ""'
        )
    return f"row {row}: {message}"


def _is_blank(cells: list[str]) -> bool:
    return not "".join(cells).strip()


# --- the header ------------------------------------------------------------------------------


def _columns(delimiter: str, cells: Sequence[str]) -> Columns:
    header = tuple(cell.strip() for cell in cells)
    keys = [normalise_name(cell) for cell in header]
    product, url = _find(keys, _PRODUCT_KEYS), _find(keys, _URL_KEYS)
    if product is None or url is None:
        found = (product, url)
        missing = [role for role, index in zip(_ROLES, found, strict=True) if index is None]
        raise _invalid(_missing_columns(header, missing))
    return Columns(delimiter, header, product, url, _find(keys, _SERIAL_KEYS))


def _find(keys: Sequence[str], aliases: Sequence[str]) -> int | None:
    # The most specific alias wins ("Product Name" over "Name"), then the leftmost column.
    for alias in aliases:
        if alias in keys:
            return keys.index(alias)
    return None


def _missing_columns(header: Sequence[str], missing: Sequence[tuple[str, Sequence[str]]]) -> str:
    absent = " and no ".join(role for role, _ in missing)
    expected = " and ".join(f"a {role} column named {_one_of(names)}" for role, names in missing)
    return (
        f"the header has no {absent} column: found columns {_listing(header)}; "
        f"expected {expected} (case, spaces, dots, underscores and dashes do not matter)"
    )


def _one_of(names: Sequence[str]) -> str:
    quoted = [f'"{name}"' for name in names]
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _listing(header: Sequence[str]) -> str:
    shown = ", ".join(f'"{cell}"' for cell in header[:_SHOWN_COLUMNS])
    hidden = len(header) - _SHOWN_COLUMNS
    return f"{shown} and {hidden} more" if hidden > 0 else shown


# --- rows and slots --------------------------------------------------------------------------


def _build_rows(
    records: Iterator[tuple[int, list[str]]], columns: Columns, max_rows: int
) -> tuple[Row, ...]:
    # Rows are built as they are read, so the records never pile up in memory (nor in the
    # garbage collector's way); past the limit the rest is only counted, for the message.
    rows = [_build_row(number, cells, columns) for number, cells in islice(records, max_rows)]
    _check_rows(len(rows) + sum(1 for _ in records), max_rows)
    return tuple(rows)


def _build_row(number: int, cells: list[str], columns: Columns) -> Row:
    product, urls, reason = _outcome(cells, columns)
    slots = () if reason else _slots(number, urls)
    return Row(number, tuple(cells), product, slots, reason)


def _outcome(cells: Sequence[str], columns: Columns) -> tuple[str, list[str], str | None]:
    """A record's product and URLs, and why it is skipped (None when it is not)."""
    product = _cell(cells, columns.product).strip()
    urls = _split_urls(_cell(cells, columns.url))
    return product, urls, NO_PRODUCT if not product else NO_URL if not urls else None


def _cell(cells: Sequence[str], index: int) -> str:
    return cells[index] if index < len(cells) else ""


def _split_urls(cell: str) -> list[str]:
    # Commas and any whitespace (line breaks in a quoted cell included) separate URLs.
    return cell.replace(",", " ").split()


def _slots(row: int, urls: list[str]) -> tuple[Slot, ...]:
    return tuple(
        [Slot(row, position, url, is_fetchable_url(url)) for position, url in enumerate(urls)]
    )


# --- limits and errors -----------------------------------------------------------------------


def _check_rows(count: int, limit: int) -> None:
    if count == 0:
        raise _invalid("the file has a header but no data rows")
    if count > limit:
        raise ManifestError(
            413, "Too many rows", f"the file has {count:,} data rows; the limit is {limit:,}"
        )


def _check_images(count: int, limit: int) -> None:
    if count > limit:
        raise ManifestError(
            413,
            "Too many images",
            f"the file names {count:,} images (every URL of every row counts, repeats "
            f"included); the limit is {limit:,} per job",
        )


def _invalid(description: str) -> ManifestError:
    return ManifestError(400, "Invalid CSV", description)
