"""The full parser: an uploaded CSV read whole into a `Manifest`, every row and slot of it.

Pure: bytes in, a `Manifest` out, or a `ManifestError` that says what is wrong and where.
The split reads the stored CSV this way, and so do the output CSV and the report.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from actors.manifest.decoding import decode
from actors.manifest.errors import check_images
from actors.manifest.header import Columns, read_header
from actors.manifest.records import detect_delimiter, read_records
from actors.manifest.rows import Row, Slot, build_rows


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


def parse_manifest(data: bytes, *, max_rows: int, max_images: int) -> Manifest:
    """Read an uploaded CSV, or raise `ManifestError` (400 malformed, 413 past a limit)."""
    columns, records = _open(data)
    rows = build_rows(records, columns, max_rows)
    check_images(sum(len(row.slots) for row in rows), max_images)
    return Manifest(
        columns.delimiter, columns.header, columns.product, columns.url, columns.serial, rows
    )


def load_manifest(path: Path, *, max_rows: int, max_images: int) -> Manifest:
    """`parse_manifest` on a stored file."""
    return parse_manifest(path.read_bytes(), max_rows=max_rows, max_images=max_images)


def _open(data: bytes) -> tuple[Columns, Iterator[tuple[int, list[str]]]]:
    """The header's columns, and an iterator over the non-blank records after it."""
    text = decode(data)
    delimiter = detect_delimiter(text)
    return read_header(read_records(io.StringIO(text, newline=""), delimiter), delimiter)
