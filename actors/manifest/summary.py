"""The streaming summary: `parse_manifest`'s checks and counts on a stored file.

The API checks a stored upload this way before it opens the job: the file is read in bounded
chunks and only the counts are kept (skipped rows' numbers and reasons aside), so memory does
not grow with the file. Whatever `parse_manifest` refuses, this refuses with the same
`ManifestError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from actors.manifest.decoding import check_stream
from actors.manifest.errors import check_images, check_rows
from actors.manifest.header import Columns, read_header
from actors.manifest.records import read_records, stream_delimiter
from actors.manifest.rows import read_row


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


def summarise_file(path: Path, *, max_rows: int, max_images: int) -> ManifestSummary:
    """`parse_manifest`'s checks and counts on a stored file, or the same `ManifestError`; the
    file is read in bounded chunks and no row is kept, skipped rows' numbers and reasons aside."""
    with path.open("rb") as raw:
        check_stream(raw)
    with path.open(encoding="utf-8-sig", newline="") as stream:
        delimiter = stream_delimiter(stream)
    with path.open(encoding="utf-8-sig", newline="") as stream:
        columns, records = read_header(read_records(stream, delimiter), delimiter)
        rows = slots = 0
        skipped: list[tuple[int, str]] = []
        for number, cells in islice(records, max_rows):
            _, urls, reason = read_row(cells, columns)
            rows += 1
            if reason:
                skipped.append((number, reason))
            else:
                slots += len(urls)
        check_rows(rows + sum(1 for _ in records), max_rows)
    check_images(slots, max_images)
    return ManifestSummary(columns, rows, slots, skipped)
