"""What intake needs of an upload before it opens the job: the counts and the skipped rows.

Read through the one reader, so nothing is kept of a row but a skipped row's number and reason,
and every refusal of the contract (400 or 413) is raised before the job exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from actors.manifest.header import Columns
from actors.manifest.reader import ManifestReader, open_manifest


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


def summarise(manifest: ManifestReader) -> ManifestSummary:
    """Every row read once, or the `ManifestError` a row or a limit raises."""
    rows = slots = 0
    skipped: list[tuple[int, str]] = []
    for number, _, _, urls, skip_reason in manifest.row_fields():
        rows, slots = rows + 1, slots + len(urls)
        if skip_reason:
            skipped.append((number, skip_reason))
    return ManifestSummary(manifest.columns, rows, slots, skipped)


def summarise_file(path: Path, *, max_rows: int, max_images: int) -> ManifestSummary:
    """A stored file's summary, or the `ManifestError` (400/413) that refuses it."""
    return summarise(open_manifest(path, max_rows=max_rows, max_images=max_images))
