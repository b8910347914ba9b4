"""A finished job's two files (contract §4): the input CSV with its output URLs, and the report.

Both are written through `atomic_writer`, so a reader (or a retried `finish_job`) never sees
half a file, and both stream from the input CSV's reader, a row at a time, so their memory does
not grow with the file (the outcomes aside, one per distinct URL). Each reads the input twice:
the output CSV to learn its width before its header, the report to put skipped rows last.
Decisions the contract leaves open:
- Lines end in CRLF, as RFC 4180 writes them.
- Blank input lines are not data rows, so they are not copied to the output CSV.
- A data row with cells past the header keeps them: the output's header is padded with empty
  names up to the widest row, so `Output Image Urls` still lines up; trailing empty cells
  (a trailing delimiter) do not widen it.
- In the report, a failed image shows no output URL, size, width, height or format, since
  those describe an output; `input_bytes` shows what was downloaded, if anything.
- Cells a spreadsheet would run as a formula are neutralised (CSV injection): every cell of
  both files, header cells included, that starts with `=`, `+`, `-`, `@`, a tab or a carriage
  return (OWASP's list; also NUL, after ASVS 5.0 1.2.10) gets a single quote in front, which
  spreadsheets read as "this is text" and hide. So these two files are not byte for byte what
  was uploaded: `=HYPERLINK(...)` comes back as `'=HYPERLINK(...)`, in product names, invalid
  URLs, any other column and the header alike. A plain number (`-5`, `+3.2`, `-1e3`) is data,
  not a formula, and a spreadsheet reads it as a number either way, so it is kept as it is;
  anything more (`-2+3`) counts as a formula. The URLs the service writes start with a letter
  and never change.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from actors.manifest.reader import ManifestReader
from actors.manifest.rows import Row, Slot
from storage.files import atomic_writer
from storage.vocabulary import FailureReason, ImageStatus, ReportStatus

OUTPUT_COLUMN = "Output Image Urls"
REPORT_HEADER = (
    "row",
    "product_name",
    "input_url",
    "output_url",
    "status",
    "error",
    "input_bytes",
    "output_bytes",
    "saved_percent",
    "width",
    "height",
    "format",
)
INVALID_URL_ERROR = f"{FailureReason.INVALID_URL}: not an absolute http(s) URL"
NO_OUTCOME_ERROR = f"{FailureReason.INTERNAL_ERROR}: no result was recorded for this image"
NO_REASON_ERROR = f"{FailureReason.INTERNAL_ERROR}: the image failed without a recorded reason"

# First characters that make Excel, LibreOffice Calc or Google Sheets read a cell as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
# A number and nothing else (ASCII digits only): a spreadsheet cannot run it.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class ImageOutcome:
    """The result for one distinct URL, shared by every slot that names it."""

    status: ImageStatus  # ok | failed
    output_url: str | None = None
    error: str | None = None  # a FailureReason, then a short message
    input_bytes: int | None = None
    output_bytes: int | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == ImageStatus.OK


_INVALID = ImageOutcome(ImageStatus.FAILED, error=INVALID_URL_ERROR)
_MISSING = ImageOutcome(ImageStatus.FAILED, error=NO_OUTCOME_ERROR)


def write_output_csv(
    manifest: ManifestReader, outcomes: Mapping[str, ImageOutcome], dest: Path
) -> None:
    """The input CSV, cell for cell (formulas neutralised), with each row's output URLs last."""
    width = _width(manifest)
    with atomic_writer(dest, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=manifest.columns.delimiter)
        writer.writerow(_safe([*_fit(manifest.columns.header, width), OUTPUT_COLUMN]))
        for row in manifest.rows():
            writer.writerow(_safe([*_fit(row.cells, width), _output_cell(row, outcomes)]))


def write_report(
    manifest: ManifestReader, outcomes: Mapping[str, ImageOutcome], dest: Path
) -> None:
    """One line per image slot in row and position order, then one per skipped row."""
    with atomic_writer(dest, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(_safe(REPORT_HEADER))
        writer.writerows(_safe(line) for line in _image_lines(manifest.rows(), outcomes))
        skipped = (row for row in manifest.rows() if row.skip_reason)
        writer.writerows(_safe(_skipped_line(row)) for row in skipped)


def neutralise_formula(cell: str) -> str:
    """`cell`, with a leading `'` if a spreadsheet would otherwise run it as a formula."""
    if cell.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def outcome_of(slot: Slot, outcomes: Mapping[str, ImageOutcome]) -> ImageOutcome:
    """What happened to a slot's image: an invalid URL never reached the pipeline."""
    if not slot.valid:
        return _INVALID
    return outcomes.get(slot.url, _MISSING)


def _safe(cells: Iterable[object]) -> list[object]:
    # Numbers and empty cells (None) pass as they are; every text goes through the check.
    return [neutralise_formula(cell) if isinstance(cell, str) else cell for cell in cells]


# --- output CSV ------------------------------------------------------------------------------


def _width(manifest: ManifestReader) -> int:
    # A pass of its own: the header, written first, is padded to the widest row.
    header = len(manifest.columns.header)
    return max(header, max((_used_width(row.cells) for row in manifest.rows()), default=0))


def _used_width(cells: Sequence[str]) -> int:
    # A trailing delimiter adds empty cells that carry nothing; they must not widen the file.
    width = len(cells)
    while width and not cells[width - 1]:
        width -= 1
    return width


def _fit(cells: Sequence[str], width: int) -> list[str]:
    # Only empty cells lie past `width`, so cutting there loses nothing.
    return [*cells[:width], *[""] * (width - len(cells))]


def _output_cell(row: Row, outcomes: Mapping[str, ImageOutcome]) -> str:
    # A failed slot stays empty rather than vanishing, so positions match the input's.
    return ",".join(_output_url(outcome_of(slot, outcomes)) for slot in row.slots)


def _output_url(outcome: ImageOutcome) -> str:
    return (outcome.output_url or "") if outcome.ok else ""


# --- report ----------------------------------------------------------------------------------


def _image_lines(
    rows: Iterable[Row], outcomes: Mapping[str, ImageOutcome]
) -> Iterator[list[object]]:
    for row in rows:
        for slot in row.slots:
            yield _image_line(row, slot, outcome_of(slot, outcomes))


def _image_line(row: Row, slot: Slot, outcome: ImageOutcome) -> list[object]:
    if outcome.ok:
        facts = [outcome.output_url, ReportStatus.OK, "", outcome.input_bytes, outcome.output_bytes]
        output = [_saved_percent(outcome), outcome.width, outcome.height, outcome.format]
    else:
        facts = ["", ReportStatus.FAILED, outcome.error or NO_REASON_ERROR, outcome.input_bytes, ""]
        output = ["", "", "", ""]
    return [row.number, row.product, slot.url, *facts, *output]


def _saved_percent(outcome: ImageOutcome) -> str:
    if not outcome.input_bytes or outcome.output_bytes is None:
        return ""
    saved = round(100 * (1 - outcome.output_bytes / outcome.input_bytes), 1)
    return f"{saved + 0.0:.1f}"  # adding 0.0 turns a rounded -0.0 into 0.0


def _skipped_line(row: Row) -> list[object]:
    return [row.number, row.product, "", "", ReportStatus.SKIPPED, row.skip_reason, *[""] * 6]
