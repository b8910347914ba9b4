"""A finished job's two files (contract §4): the input CSV with its output URLs, and the report.

Both are written through `atomic_writer`, so a reader (or a retried `finish_job`) never sees
half a file, and both stream from the input CSV's reader, a row at a time, and ask for each
slot's outcome in that order (`SlotOutcomes`), so that the outcomes can stream too: their
memory does not grow with the file. Each reads the input twice: the output CSV to learn its
width before its header, the report to put skipped rows last.
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
import shutil
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from tempfile import SpooledTemporaryFile
from typing import IO, NamedTuple, Protocol

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


class ImageOutcome(NamedTuple):
    """The result for one distinct URL, shared by every slot that names it (a NamedTuple,
    as the outcome it is made from)."""

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


INVALID = ImageOutcome(ImageStatus.FAILED, error=INVALID_URL_ERROR)
MISSING = ImageOutcome(ImageStatus.FAILED, error=NO_OUTCOME_ERROR)


class SlotOutcomes(Protocol):
    """Where a writer learns each slot's outcome: asked once per slot, in row and position
    order, so an implementation may stream them (actors/outcome_stream.py)."""

    def of(self, slot: Slot) -> ImageOutcome: ...


class ByUrl:
    """Outcomes already in memory, one per distinct URL: asked in any order."""

    def __init__(self, outcomes: Mapping[str, ImageOutcome]) -> None:
        self._outcomes = outcomes

    def of(self, slot: Slot) -> ImageOutcome:
        # An invalid URL never reached the pipeline.
        return self._outcomes.get(slot.url, MISSING) if slot.valid else INVALID


def write_output_csv(manifest: ManifestReader, outcomes: SlotOutcomes, dest: Path) -> None:
    """The input CSV, cell for cell (formulas neutralised), with each row's output URLs last."""
    write_files(manifest, outcomes, output_csv=dest)


def write_report(manifest: ManifestReader, outcomes: SlotOutcomes, dest: Path) -> None:
    """One line per image slot in row and position order, then one per skipped row."""
    write_files(manifest, outcomes, report=dest)


def write_files(
    manifest: ManifestReader,
    outcomes: SlotOutcomes,
    *,
    output_csv: Path | None = None,
    report: Path | None = None,
) -> None:
    """The output CSV, the report, or both in one pass over the rows that asks for each
    slot's outcome once: a finish reads its job's images once for both files (a pass each
    was two fifths of a 100,000-image finish)."""
    with ExitStack() as files:
        writers: list[_OutputCsv | _Report] = []
        if output_csv is not None:
            writers.append(_OutputCsv(manifest, files.enter_context(_text_file(output_csv))))
        if report is not None:
            handle, aside = files.enter_context(_text_file(report)), files.enter_context(_spool())
            writers.append(_Report(handle, aside))
        for row in manifest.rows():
            slots = row.slots
            results = [outcomes.of(slot) for slot in slots]
            for writer in writers:
                writer.row(row, slots, results)
        for writer in writers:
            writer.end()


def _text_file(path: Path) -> AbstractContextManager[IO[str]]:
    return atomic_writer(path, "w", encoding="utf-8", newline="")


_SPOOLED_BYTES = 256 * 1024  # of skipped rows' lines, in memory before a temporary file


def _spool() -> AbstractContextManager[IO[str]]:
    # In memory up to a size, then on disk: a file may be nothing but skipped rows.
    return SpooledTemporaryFile(_SPOOLED_BYTES, "w+", encoding="utf-8", newline="")


def neutralise_formula(cell: str) -> str:
    """`cell`, with a leading `'` if a spreadsheet would otherwise run it as a formula."""
    return _quoted(cell) if cell.startswith(FORMULA_TRIGGERS) else cell


def _quoted(cell: str) -> str:
    return cell if _PLAIN_NUMBER.fullmatch(cell) else "'" + cell


def _safe(cells: Iterable[object]) -> list[object]:
    # Numbers and empty cells (None) pass as they are; every text goes through the check,
    # written out here: a call per cell was a tenth of a 100,000-image finish.
    return [
        _quoted(cell) if isinstance(cell, str) and cell.startswith(FORMULA_TRIGGERS) else cell
        for cell in cells
    ]


# --- output CSV ------------------------------------------------------------------------------


def _width(manifest: ManifestReader) -> int:
    # A pass of its own: the header, written first, is padded to the widest row.
    header = len(manifest.columns.header)
    widths = (_used_width(cells) for _, cells, *_ in manifest.row_fields())
    return max(header, max(widths, default=0))


def _used_width(cells: Sequence[str]) -> int:
    # A trailing delimiter adds empty cells that carry nothing; they must not widen the file.
    width = len(cells)
    while width and not cells[width - 1]:
        width -= 1
    return width


def _fit(cells: Sequence[str], width: int) -> list[str]:
    # Only empty cells lie past `width`, so cutting there loses nothing.
    return [*cells[:width], *[""] * (width - len(cells))]


class _OutputCsv:
    """The input CSV, a row at a time, padded to the widest row, its output URLs last."""

    def __init__(self, manifest: ManifestReader, handle: IO[str]) -> None:
        self._width = _width(manifest)
        self._csv = csv.writer(handle, delimiter=manifest.columns.delimiter)
        self._csv.writerow(_safe([*_fit(manifest.columns.header, self._width), OUTPUT_COLUMN]))

    def row(self, row: Row, slots: Sequence[Slot], results: Sequence[ImageOutcome]) -> None:
        self._csv.writerow(_safe([*_fit(row.cells, self._width), _output_cell(results)]))

    def end(self) -> None:
        pass


def _output_cell(results: Sequence[ImageOutcome]) -> str:
    # A failed slot stays empty rather than vanishing, so positions match the input's.
    return ",".join(_output_url(outcome) for outcome in results)


def _output_url(outcome: ImageOutcome) -> str:
    return (outcome.output_url or "") if outcome.ok else ""


# --- report ----------------------------------------------------------------------------------


class _Report:
    """A line per slot as the rows go by; the skipped rows' lines set aside, and written last
    (a pass of the file of their own was a twelfth of a 100,000-image finish)."""

    def __init__(self, handle: IO[str], aside: IO[str]) -> None:
        self._handle, self._aside = handle, aside
        self._csv, self._skipped = csv.writer(handle), csv.writer(aside)
        self._csv.writerow(_safe(REPORT_HEADER))

    def row(self, row: Row, slots: Sequence[Slot], results: Sequence[ImageOutcome]) -> None:
        if row.skip_reason:  # a skipped row has no slots
            self._skipped.writerow(_safe(_skipped_line(row)))
            return
        lines = zip(slots, results, strict=True)
        self._csv.writerows(_safe(_image_line(row, slot, outcome)) for slot, outcome in lines)

    def end(self) -> None:
        self._aside.seek(0)
        shutil.copyfileobj(self._aside, self._handle)


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
