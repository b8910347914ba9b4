"""The one reader of an uploaded CSV: its columns first, then its data rows one at a time.

`open_manifest` reads what is known before any row, and refuses the file at once for it: the
bytes (UTF-8, not binary, checked over the whole file in bounded chunks, so that a bad byte
anywhere is named before a problem of the header, as a whole-file decode would name it), the
delimiter and the header. `ManifestReader.rows` then reads the data rows, afresh on every call,
holding one at a time. What only the rows can tell (a quoting problem, the row and image
limits) is raised when the iteration reaches it, the limits after the last row: so a consumer
acts on what it gathered only once the iteration has ended.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import BinaryIO

from actors.manifest.decoding import check_stream
from actors.manifest.errors import check_images, check_rows
from actors.manifest.header import Columns, read_header
from actors.manifest.records import read_records, stream_delimiter
from actors.manifest.rows import Row, read_row

# A row's fields in Row's order: number, cells, product, urls, skip reason.
RowFields = tuple[int, Sequence[str], str, Sequence[str], str | None]
# Opens the CSV's bytes from their start, afresh on every call: a stored file, or any stream.
Opener = Callable[[], BinaryIO]


@dataclass(frozen=True, slots=True)
class ManifestReader:
    """A CSV whose bytes and header passed: its columns, and its rows on demand.

    The file is read again on every `rows()` call, so it must not change in between; stored
    uploads never do."""

    columns: Columns
    max_rows: int
    max_images: int
    source: Opener

    def rows(self) -> Iterator[Row]:
        """Every data row in order, skipped ones included, or `ManifestError` on the way."""
        return (Row(*fields) for fields in self.row_fields())

    def row_fields(self) -> Iterator[RowFields]:
        """What `rows` yields, as plain tuples: for a pass that only counts (the API's check
        of an upload), where building a Row per line cost a fifth of the check."""
        count = slots = 0
        columns = self.columns
        with _text(self.source()) as stream:
            records = _data_records(stream, columns.delimiter)
            for number, cells in islice(records, self.max_rows):
                product, urls, reason = read_row(cells, columns)
                kept = () if reason else urls  # a skipped row has no slots
                count, slots = count + 1, slots + len(kept)
                yield number, cells, product, kept, reason
            # Past the limit the rest is only counted (and checked), for the message.
            check_rows(count + sum(1 for _ in records), self.max_rows)
        check_images(slots, self.max_images)


def open_manifest(source: Path | Opener, *, max_rows: int, max_images: int) -> ManifestReader:
    """Check an uploaded CSV's bytes and header, or raise `ManifestError` (400 malformed)."""
    opener = _file(source) if isinstance(source, Path) else source
    with opener() as raw:
        check_stream(raw)
    with _text(opener()) as stream:
        delimiter = stream_delimiter(stream)
    with _text(opener()) as stream:
        columns, _ = read_header(read_records(stream, delimiter), delimiter)
    return ManifestReader(columns, max_rows, max_images, opener)


def _file(path: Path) -> Opener:
    return lambda: path.open("rb")


def _text(raw: BinaryIO) -> io.TextIOWrapper:
    # newline="" hands line ends to the CSV reader, which counts rows by them.
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _data_records(stream: io.TextIOWrapper, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """The non-blank records after the header (read again, so the numbering holds)."""
    _, records = read_header(read_records(stream, delimiter), delimiter)
    return records
