"""Reading an uploaded CSV into products and image slots (contract §2), through the one reader."""

from __future__ import annotations

import io
import time
import tracemalloc
from pathlib import Path

import pytest

from actors.errors import PipelineError
from actors.manifest import decoding, records
from actors.manifest.errors import ManifestError
from actors.manifest.header import Columns
from actors.manifest.reader import ManifestReader, open_manifest
from actors.manifest.rows import NO_PRODUCT, NO_URL, Row, Slot, is_fetchable_url
from actors.manifest.summary import summarise, summarise_file

SEED_SAMPLE = (
    "S. No, Product Name, Input URLs\n"
    '1,SKU1,"https://example.com/a.jpg, https://example.com/b.png"\n'
    "4,imageone,https://example.com/800/600.jpg\n"
)


def reader(text: str | bytes, *, max_rows: int = 1000, max_images: int = 1000) -> ManifestReader:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return open_manifest(lambda: io.BytesIO(data), max_rows=max_rows, max_images=max_images)


def parse(
    text: str | bytes, *, max_rows: int = 1000, max_images: int = 1000
) -> tuple[Columns, list[Row]]:
    """The columns and every row, read to the end (where the limits are checked)."""
    manifest = reader(text, max_rows=max_rows, max_images=max_images)
    return manifest.columns, list(manifest.rows())


def rejection(text: str | bytes, *, max_rows: int = 1000, max_images: int = 1000) -> ManifestError:
    with pytest.raises(ManifestError) as caught:
        parse(text, max_rows=max_rows, max_images=max_images)
    return caught.value


def slots(rows: list[Row]) -> list[Slot]:
    return [slot for row in rows for slot in row.slots]


def urls(rows: list[Row]) -> list[str]:
    return [slot.url for slot in slots(rows)]


def roles(columns: Columns) -> tuple[int | None, int, int]:
    return columns.serial, columns.product, columns.url


# --- the seed's sample -----------------------------------------------------------------------


def test_seed_sample_reads_exactly() -> None:
    # Given the seed's own sample, spaces after the header's commas included
    # When it is parsed
    columns, rows = parse(SEED_SAMPLE)
    # Then the header is trimmed, every role is found and the rows carry their slots
    assert columns.delimiter == ","
    assert columns.header == ("S. No", "Product Name", "Input URLs")
    assert roles(columns) == (0, 1, 2)
    assert [(row.number, row.product, row.skip_reason) for row in rows] == [
        (2, "SKU1", None),
        (3, "imageone", None),
    ]
    assert slots(rows) == [
        Slot(2, 0, "https://example.com/a.jpg", True),
        Slot(2, 1, "https://example.com/b.png", True),
        Slot(3, 0, "https://example.com/800/600.jpg", True),
    ]
    assert tuple(rows[0].cells) == (
        "1",
        "SKU1",
        "https://example.com/a.jpg, https://example.com/b.png",
    )


def test_a_stored_file_reads_as_the_same_bytes_in_a_stream(tmp_path: Path) -> None:
    # Given the sample stored on disk
    path = tmp_path / "in.csv"
    path.write_bytes(SEED_SAMPLE.encode())
    # When it is opened by its path, Then it reads as the same bytes do
    manifest = open_manifest(path, max_rows=10, max_images=10)
    assert (manifest.columns, list(manifest.rows())) == parse(SEED_SAMPLE)


# --- header matching -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["productname", "product", "name"])
def test_every_product_alias_is_recognised(name: str) -> None:
    columns, rows = parse(f"id,{name},url\n1,Shoe,https://x.test/1.jpg\n")
    assert columns.product == 1
    assert rows[0].product == "Shoe"


@pytest.mark.parametrize(
    "name", ["inputurls", "inputimageurls", "imageurls", "urls", "imageurl", "url"]
)
def test_every_url_alias_is_recognised(name: str) -> None:
    columns, rows = parse(f"product,{name}\nShoe,https://x.test/1.jpg\n")
    assert columns.url == 1
    assert urls(rows) == ["https://x.test/1.jpg"]


@pytest.mark.parametrize("name", ["sno", "serialnumber", "serial", "id"])
def test_every_serial_alias_is_recognised(name: str) -> None:
    assert reader(f"product,url,{name}\nShoe,https://x.test/1.jpg,7\n").columns.serial == 2


@pytest.mark.parametrize(
    ("header", "found"),
    [
        ("S. No, Product Name, Input URLs", (0, 1, 2)),
        (" Product Name ,Input-Image_URLs", (None, 0, 1)),
        ("PRODUCT_NAME;IMAGE.URL;Serial-Number", (2, 0, 1)),
        ("Serial No.,Product\u00a0Name,Image  Urls", (None, 1, 2)),
        ("ID\tName\tURLs", (0, 1, 2)),
    ],
)
def test_header_cells_match_ignoring_case_spaces_dots_underscores_and_dashes(
    header: str, found: tuple[int | None, int, int]
) -> None:
    # Given a header spelled in one of many ways (the row uses the header's delimiter)
    delimiter = ";" if ";" in header else "\t" if "\t" in header else ","
    row = delimiter.join(["x"] * len(header.split(delimiter)))
    # When it is parsed, Then the serial, product and URL columns are where they are
    assert roles(reader(f"{header}\n{row}\n").columns) == found


def test_serial_column_is_optional() -> None:
    assert reader("Product,URL\nShoe,https://x.test/1.jpg\n").columns.serial is None


def test_most_specific_alias_wins_over_column_order() -> None:
    # Given a "Name" column before a "Product Name" column, and "URL" before "Image URLs"
    columns = reader(
        "Name,URL,Product Name,Image URLs\nn,https://x.test/u,p,https://x.test/i\n"
    ).columns
    # Then the more specific names are chosen
    assert (columns.product, columns.url) == (2, 3)


def test_missing_columns_name_what_was_found_and_what_is_expected() -> None:
    error = rejection("S. No, Title, Links\n1,a,https://x.test/1.jpg\n")
    assert (error.status, error.title) == (400, "Invalid CSV")
    assert "no product and no URL column" in error.description
    assert 'found columns "S. No", "Title", "Links"' in error.description
    assert '"Product Name", "Product" or "Name"' in error.description
    assert '"Input URLs", "Input Image URLs", "Image URLs", "URLs", "Image URL" or "URL"' in (
        error.description
    )


def test_missing_url_column_only_asks_for_the_url_column() -> None:
    error = rejection("Product Name,Picture\nShoe,https://x.test/1.jpg\n")
    assert "the header has no URL column" in error.description
    assert '"Product Name", "Picture"' in error.description
    assert '"Input URLs"' in error.description
    assert '"Product"' not in error.description


# --- delimiters, encodings, line ends --------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_each_delimiter_is_detected_from_the_header(delimiter: str) -> None:
    # Given a file in that delimiter, with a quoted multi-URL cell
    header = delimiter.join(["S. No", "Product Name", "Input URLs"])
    row = delimiter.join(["1", "SKU1", '"https://x.test/a.jpg, https://x.test/b.jpg"'])
    columns, rows = parse(f"{header}\n{row}\n")
    # Then the delimiter is found and the cells split on it only
    assert columns.delimiter == delimiter
    assert rows[0].product == "SKU1"
    assert urls(rows) == ["https://x.test/a.jpg", "https://x.test/b.jpg"]


def test_semicolon_file_keeps_unquoted_commas_inside_the_url_cell() -> None:
    _, rows = parse("Product;URLs\nShoe;https://x.test/1.jpg,https://x.test/2.jpg\n")
    assert urls(rows) == ["https://x.test/1.jpg", "https://x.test/2.jpg"]


def test_delimiters_inside_quoted_header_cells_do_not_count() -> None:
    # Given three semicolons inside a quoted header cell and two commas outside
    columns = reader('"a;b;c;d",Product,URL\nx,Shoe,https://x.test/1.jpg\n').columns
    # Then comma is the delimiter
    assert columns.delimiter == ","
    assert columns.header == ("a;b;c;d", "Product", "URL")


def test_a_tie_between_delimiters_picks_comma() -> None:
    columns, rows = parse("Product,URL,Note;a;b\nShoe,https://x.test/1.jpg,n;1;2\n")
    assert columns.delimiter == ","
    assert tuple(rows[0].cells) == ("Shoe", "https://x.test/1.jpg", "n;1;2")


def test_utf8_bom_is_dropped() -> None:
    columns = reader(b"\xef\xbb\xbf" + SEED_SAMPLE.encode()).columns
    assert columns.header[0] == "S. No"
    assert columns.serial == 0


def test_crlf_line_ends_read_like_lf() -> None:
    assert parse(SEED_SAMPLE.replace("\n", "\r\n")) == parse(SEED_SAMPLE)


def test_non_ascii_text_survives() -> None:
    _, rows = parse("Product,URL\nCafé ☕,https://x.test/é.jpg\n")
    assert rows[0].product == "Café ☕"
    assert urls(rows) == ["https://x.test/é.jpg"]


def test_not_utf8_says_where_the_first_bad_byte_is() -> None:
    # Given a Latin-1 "é" on the third line, at byte offset 41
    data = b"Product,URL\nShoe,https://x.test/1.jpg\nCaf\xe9,https://x.test/2\n"
    assert data.index(b"\xe9") == 41
    error = rejection(data)
    assert error.status == 400
    assert error.description.startswith(
        "the file is not UTF-8: byte 0xe9 at offset 41 (line 3) cannot be decoded"
    )


def test_not_utf8_offset_counts_the_bom() -> None:
    error = rejection(b"\xef\xbb\xbfProduct,URL\n\xff\n")
    assert "byte 0xff at offset 15 (line 2)" in error.description


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-16-le"])
def test_utf16_with_a_bom_is_named(encoding: str) -> None:
    data = SEED_SAMPLE.encode(encoding)
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        data = ("\ufeff" + SEED_SAMPLE).encode(encoding)
    error = rejection(data)
    assert error.status == 400
    assert "not UTF-8" in error.description
    assert "UTF-16" in error.description


# --- rows, cells and URLs --------------------------------------------------------------------


def test_quoted_url_cell_splits_on_commas_whitespace_and_newlines() -> None:
    # Given one cell with URLs separated by a comma, spaces, a newline, CRLF, a tab and an
    # empty piece
    cell = "https://x.test/1.jpg,https://x.test/2.jpg  https://x.test/3.jpg\nhttps://x.test/4.jpg"
    cell += "\r\n\thttps://x.test/5.jpg, ,"
    _, rows = parse(f'Product,URLs\nShoe,"{cell}"\nHat,https://x.test/6.jpg\n')
    # Then every URL is a slot in order, trimmed, with no empty piece
    assert [(s.row, s.position, s.url) for s in slots(rows)] == [
        (2, 0, "https://x.test/1.jpg"),
        (2, 1, "https://x.test/2.jpg"),
        (2, 2, "https://x.test/3.jpg"),
        (2, 3, "https://x.test/4.jpg"),
        (2, 4, "https://x.test/5.jpg"),
        (3, 0, "https://x.test/6.jpg"),
    ]


def test_spaces_before_an_opening_quote_are_skipped_as_in_the_seed_style() -> None:
    # Given a row written like the seed's header: a space after each comma
    _, rows = parse(
        'S. No, Product Name, Input URLs\n1, SKU1, "https://x.test/a, https://x.test/b"\n'
    )
    # Then the quoted cell is still one cell holding both URLs
    assert tuple(rows[0].cells) == ("1", "SKU1", "https://x.test/a, https://x.test/b")
    assert urls(rows) == ["https://x.test/a", "https://x.test/b"]


def test_a_multiline_quoted_cell_is_one_row() -> None:
    # Given a row whose quoted cells span three lines
    text = 'Product,URL\n"Shoe\nred",https://x.test/1.jpg\nHat,"https://x.test/2.jpg\n"\nCap,u\n'
    _, rows = parse(text)
    # Then rows are numbered by records, not by lines
    assert [(row.number, row.product) for row in rows] == [
        (2, "Shoe\nred"),
        (3, "Hat"),
        (4, "Cap"),
    ]


def test_blank_lines_are_not_data_rows_but_keep_their_row_number() -> None:
    # Given blank lines before the header, between rows and made of delimiters only
    text = "\n  \nProduct,URL\nShoe,https://x.test/1.jpg\n\n , \nHat,https://x.test/2.jpg\n\n"
    _, rows = parse(text)
    # Then only the two products are rows, numbered as a spreadsheet shows them
    assert [(row.number, row.product, row.skip_reason) for row in rows] == [
        (4, "Shoe", None),
        (7, "Hat", None),
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (",https://x.test/1.jpg", NO_PRODUCT),
        ("   ,https://x.test/1.jpg", NO_PRODUCT),
        ("Shoe,", NO_URL),
        ("Shoe, , ,", NO_URL),
        ("Shoe", NO_URL),
        (",,,note", NO_PRODUCT),
    ],
)
def test_rows_without_a_product_or_a_url_are_skipped(line: str, reason: str) -> None:
    # Given a valid row, then a row missing something, then a valid row
    _, rows = parse(f"Product,URL,,Note\nA,https://x.test/a.jpg\n{line}\nB,https://x.test/b.jpg\n")
    # Then the middle row is kept, in place, as skipped with its reason and no slot
    assert [(row.number, row.skip_reason) for row in rows] == [(2, None), (3, reason), (4, None)]
    assert (rows[1].urls, rows[1].slots) == ((), ())
    assert [slot.row for slot in slots(rows)] == [2, 4]


def test_short_and_long_rows_are_tolerated_and_cells_kept_as_read() -> None:
    _, rows = parse("S. No,Product,URL\n1,Shoe \n2,Hat,https://x.test/1.jpg,extra,\n")
    short, long = rows
    assert tuple(short.cells) == ("1", "Shoe ")
    assert (short.product, short.skip_reason) == ("Shoe", NO_URL)
    assert tuple(long.cells) == ("2", "Hat", "https://x.test/1.jpg", "extra", "")
    assert urls(rows) == ["https://x.test/1.jpg"]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x.test/a.jpg",
        "/images/a.jpg",
        "images/a.jpg",
        "//x.test/a.jpg",
        "javascript:alert(1)",
        "mailto:shop@x.test",
        "http://",
        "https:///a.jpg",
        "https:x.test/a.jpg",
        "http://x.test:abc/a.jpg",
        "http://x.test:0/a.jpg",
        "http://127.0.0.1:65536/a.jpg",
        "http://x.test:99999",
        "http://[::1/a.jpg",
        "http://x.test/a\x01.jpg",
        "",
    ],
)
def test_urls_that_are_not_absolute_http_are_not_fetchable(url: str) -> None:
    assert not is_fetchable_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a.jpg",
        "HTTP://Example.COM/A.JPG",
        "https://example.com",
        "https://x.test/a.jpg?w=1&h=2#top",
        "http://127.0.0.1:8000/a.png",
        "http://127.0.0.1:65535",
        "https://x.test:443?w=1",
        "http://x.test:080/a.jpg",
        "http://x.test:/a.jpg",
        "https://user:pw@x.test/a.jpg",
        "https://[::1]:8443/a.jpg",
        "https://例え.jp/画像.jpg",
        "https://x.test./a.jpg",
    ],
)
def test_absolute_http_urls_with_a_host_are_fetchable(url: str) -> None:
    assert is_fetchable_url(url)


def test_invalid_urls_are_slots_that_fail_and_do_not_skip_the_row() -> None:
    # Given a row mixing valid and invalid URLs
    text = (
        'Product,URLs\nShoe,"ftp://x.test/a.jpg https://x.test/b.jpg /c.jpg javascript:alert(1)"\n'
    )
    _, rows = parse(text)
    # Then every piece is a slot, the invalid ones marked
    assert [(slot.url, slot.valid) for slot in slots(rows)] == [
        ("ftp://x.test/a.jpg", False),
        ("https://x.test/b.jpg", True),
        ("/c.jpg", False),
        ("javascript:alert(1)", False),
    ]
    assert rows[0].skip_reason is None


def test_duplicate_urls_count_in_every_slot() -> None:
    # Given a URL twice in one row and again in another, and a repeated invalid URL
    text = (
        "Product,URLs\n"
        'A,"https://x.test/2.jpg https://x.test/1.jpg https://x.test/2.jpg"\n'
        'B,"ftp://x.test/z https://x.test/1.jpg ftp://x.test/z"\n'
    )
    # Then each slot is an image (the split makes one image of each distinct URL:
    # tests/storage/test_split.py)
    assert urls(parse(text)[1]) == [
        "https://x.test/2.jpg",
        "https://x.test/1.jpg",
        "https://x.test/2.jpg",
        "ftp://x.test/z",
        "https://x.test/1.jpg",
        "ftp://x.test/z",
    ]


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\n", b"\r\n  \r\n,,\r\n"])
def test_an_empty_file_is_refused(data: bytes) -> None:
    error = rejection(data)
    assert error.status == 400
    assert error.description.startswith("the file is empty")


@pytest.mark.parametrize("text", ["Product,URL", "Product,URL\n", "Product,URL\n\n,,\n"])
def test_a_header_without_data_rows_is_refused(text: str) -> None:
    error = rejection(text)
    assert (error.status, error.description) == (400, "the file has a header but no data rows")


def test_more_data_rows_than_the_limit_is_413_with_both_numbers() -> None:
    rows = "".join(f"P{i},https://x.test/{i}.jpg\n" for i in range(5))
    error = rejection(f"Product,URL\n{rows}", max_rows=4)
    assert (error.status, error.title) == (413, "Too many rows")
    assert error.description == "the file has 5 data rows; the limit is 4"


def test_rows_at_the_limit_blank_lines_aside_are_accepted() -> None:
    rows = "".join(f"P{i},https://x.test/{i}.jpg\n\n" for i in range(4))
    assert len(parse(f"Product,URL\n{rows}", max_rows=4)[1]) == 4


def test_more_image_slots_than_the_limit_is_413_with_both_numbers() -> None:
    # Given 1,001 slots (a duplicate and an invalid URL among them) and a skipped row's URL
    rows = "".join(f"P{i},https://x.test/{i}.jpg\n" for i in range(999))
    text = f'Product,URL\n{rows}Dup,"https://x.test/0.jpg ftp://bad"\n,https://x.test/s.jpg\n'
    error = rejection(text, max_rows=2000, max_images=1000)
    assert (error.status, error.title) == (413, "Too many images")
    assert "the file names 1,001 images" in error.description
    assert "the limit is 1,000" in error.description


def test_image_slots_at_the_limit_are_accepted() -> None:
    _, rows = parse(
        'Product,URL\nA,"https://x.test/1 https://x.test/1"\n,https://x.test/2\n', max_images=2
    )
    assert len(slots(rows)) == 2


def test_a_nul_byte_means_binary() -> None:
    error = rejection(b"Product,URL\nShoe,https://x.test/1.jpg\x00\x01\x02\n")
    assert error.status == 400
    assert error.description.startswith("the file looks binary, not a CSV")
    assert "offset 37 (line 2)" in error.description


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00", "ZIP archive (an .xlsx workbook?)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG image"),
        (b"%PDF-1.7\n%\xe2\xe3", "PDF document"),
    ],
)
def test_well_known_binary_files_are_named(data: bytes, kind: str) -> None:
    error = rejection(data)
    assert error.status == 400
    assert error.description == f"the file looks binary, not a CSV: it starts like a {kind}"


def test_an_unclosed_quote_names_its_row() -> None:
    error = rejection('Product,URL\nA,https://x.test/1.jpg\nB,"https://x.test/2.jpg\nC,u\n')
    assert error.status == 400
    assert error.description.startswith("row 3: a quoted cell is never closed")


def test_text_after_a_closing_quote_names_its_row() -> None:
    error = rejection('Product,URL\nA,"https://x.test/1.jpg"x\n')
    assert error.description.startswith("row 2: a quoted cell has text after its closing quote")


def test_manifest_error_belongs_to_the_pipeline_error_tree() -> None:
    assert isinstance(rejection(b""), PipelineError)


# --- reading as a stream --------------------------------------------------------------------


def test_rows_are_read_afresh_and_alike_on_every_pass() -> None:
    manifest = reader(SEED_SAMPLE)
    first = manifest.rows()
    assert next(first).number == 2
    # A second pass, begun while the first is under way, starts from the first row again
    assert [row.number for row in manifest.rows()] == [2, 3]
    assert [row.number for row in first] == [3]


def test_the_bytes_and_the_header_are_refused_when_the_file_is_opened() -> None:
    # Given a bad byte far below a good header, and a header without a URL column
    with pytest.raises(ManifestError, match="not UTF-8"):
        reader(big_csv(20_000) + b"\r\nCaf\xe9,u\n")
    with pytest.raises(ManifestError, match="no URL column"):
        reader("Product,Picture\nShoe,https://x.test/1.jpg\n")


def test_a_row_that_cannot_be_read_is_refused_when_the_rows_reach_it() -> None:
    # Given an unclosed quote on row 3
    rows = reader('Product,URL\nA,https://x.test/1.jpg\nB,"https://x.test/2.jpg\nC,u\n').rows()
    # Then row 2 comes first, then the refusal that names row 3
    assert next(rows).number == 2
    with pytest.raises(ManifestError, match="^row 3: a quoted cell is never closed"):
        next(rows)


@pytest.mark.parametrize(
    ("max_rows", "max_images", "title"), [(4, 100, "Too many rows"), (100, 4, "Too many images")]
)
def test_the_limits_are_refused_after_the_last_row(
    max_rows: int, max_images: int, title: str
) -> None:
    # Given five rows of one image each, past one of the limits
    text = "Product,URL\n" + "".join(f"P{i},https://x.test/{i}.jpg\n" for i in range(5))
    rows = reader(text, max_rows=max_rows, max_images=max_images).rows()
    # Then the rows within the row limit are read, and then the file is refused
    assert len([next(rows) for _ in range(4)]) == 4
    with pytest.raises(ManifestError) as caught:
        list(rows)
    assert (caught.value.status, caught.value.title) == (413, title)


# --- scale -----------------------------------------------------------------------------------


def big_csv(count: int, skip_every: int = 0) -> bytes:
    """`count` rows of two URLs each, every `skip_every`th without a product name."""
    lines = [
        f"{i},{'' if skip_every and i % skip_every == 0 else f'SKU{i}'},"
        f'"https://cdn.x.test/p/{i}/a.jpg, https://cdn.x.test/p/{i}/b.png"'
        for i in range(count)
    ]
    return ("S. No,Product Name,Input URLs\r\n" + "\r\n".join(lines)).encode()


def test_a_hundred_thousand_rows_read_quickly() -> None:
    # Given 100,000 rows of two URLs each (about 9 MB)
    data = big_csv(100_000)
    # When they are read
    started = time.perf_counter()
    _, rows = parse(data, max_rows=100_000, max_images=200_000)
    elapsed = time.perf_counter() - started
    # Then all are read, and far faster than anything quadratic (~0.5 s on a slow CI core)
    assert (len(rows), len(slots(rows))) == (100_000, 200_000)
    assert rows[-1].number == 100_001
    assert elapsed < 5


# What one pass may hold, whatever the file's size: a few of the byte check's 256 KiB chunks,
# the text and CSV readers' buffers and one row. A 100,000-row file is four times as large.
_FLAT_BYTES = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def hundred_thousand_rows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stored CSV of 100,000 rows (about 8 MB), one in a thousand skipped."""
    path = tmp_path_factory.mktemp("big") / "big.csv"
    path.write_bytes(big_csv(100_000, skip_every=1000))
    return path


def test_reading_a_hundred_thousand_rows_keeps_memory_flat(hundred_thousand_rows: Path) -> None:
    # Given a stored file four times the bound
    assert hundred_thousand_rows.stat().st_size > 4 * _FLAT_BYTES
    # When it is opened and every row and slot is read, under tracemalloc
    tracemalloc.start()
    try:
        manifest = open_manifest(hundred_thousand_rows, max_rows=100_000, max_images=200_000)
        images = sum(len(row.slots) for row in manifest.rows())
        _, streamed = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        # and, to show the measure can fail, the rows held all at once, as a whole-file
        # reader holds them
        held = list(manifest.rows())
        _, whole = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Then every image is read within the bound, which holding the rows exceeds many times
    assert (images, len(held)) == (199_800, 100_000)
    assert streamed < _FLAT_BYTES, f"streamed peak {streamed:,} B"
    assert whole > 10 * _FLAT_BYTES, f"whole peak {whole:,} B"


def test_the_summary_of_a_hundred_thousand_rows_keeps_memory_flat(
    hundred_thousand_rows: Path,
) -> None:
    tracemalloc.start()
    try:
        summary = summarise_file(hundred_thousand_rows, max_rows=100_000, max_images=200_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (summary.rows, summary.total_slots, len(summary.skipped)) == (100_000, 199_800, 100)
    assert peak < _FLAT_BYTES, f"summary peak {peak:,} B"


# --- chunk boundaries ------------------------------------------------------------------------

# Every refusal above, as (data, max_rows, max_images), plus cases where a chunked reader could
# go wrong: a bad byte or a NUL far into the file, a NUL after a bad byte (the NUL is named), a
# sequence cut short by the end of the file, blank lines and headers past the scan limit.
_LONG = "".join(f"P{i},https://x.test/{i}.jpg\r\n" for i in range(20_000)).encode()
REFUSALS: list[tuple[bytes, int, int]] = [
    (b"S. No, Title, Links\n1,a,https://x.test/1.jpg\n", 1000, 1000),
    (b"Product Name,Picture\nShoe,https://x.test/1.jpg\n", 1000, 1000),
    (b"a,b\n", 1000, 1000),
    (b"Product,URL\nShoe,https://x.test/1.jpg\nCaf\xe9,https://x.test/2\n", 1000, 1000),
    (b"\xef\xbb\xbfProduct,URL\n\xff\n", 1000, 1000),
    *[(SEED_SAMPLE.encode(encoding), 1000, 1000) for encoding in ("utf-16", "utf-32")],
    *[(("\ufeff" + SEED_SAMPLE).encode(e), 1000, 1000) for e in ("utf-16-be", "utf-16-le")],
    *[(data, 1000, 1000) for data in (b"", b"\xef\xbb\xbf", b"\n\n", b"\r\n  \r\n,,\r\n")],
    *[(data, 1000, 1000) for data in (b"Product,URL", b"Product,URL\n", b"Product,URL\n\n,,\n")],
    (b"Product,URL\n" + b"".join(b"P%d,https://x.test/%d.jpg\n" % (i, i) for i in range(5)), 4, 9),
    (b"Product,URL\n" + _LONG, 19_999, 100_000),
    (b"Product,URL\n" + _LONG, 100_000, 19_999),
    (b"Product,URL\nShoe,https://x.test/1.jpg\x00\x01\x02\n", 1000, 1000),
    (b"PK\x03\x04\x14\x00\x06\x00", 1000, 1000),
    (b"\x89PNG\r\n\x1a\n\x00\x00", 1000, 1000),
    (b"%PDF-1.7\n%\xe2\xe3", 1000, 1000),
    (b'Product,URL\nA,https://x.test/1.jpg\nB,"https://x.test/2.jpg\nC,u\n', 1000, 1000),
    (b'Product,URL\nA,"https://x.test/1.jpg"x\n', 1000, 1000),
    (b"Product,URL\n" + _LONG + b"Caf\xe9,u\r\n", 100_000, 100_000),
    (b"Product,URL\n" + _LONG + b"Shoe,u\x00\r\n", 100_000, 100_000),
    (b"Product,URL\nCaf\xe9,u\n" + _LONG + b"Shoe,u\x00\n", 100_000, 100_000),
    (b"Product,URL\n" + _LONG + "Café".encode()[:-1], 100_000, 100_000),
    (b"Product,URL\n" + _LONG + b'Shoe,"u', 100_000, 100_000),
    (b" ;" * 50_000 + b"\n\r\n" + b"x" * 70_000 + b";Product;URL\n", 1000, 1000),
]

ACCEPTED = [
    SEED_SAMPLE,
    "\ufeff" + SEED_SAMPLE.replace("\n", "\r\n"),
    'Product,URL\n"Shoe\nred",https://x.test/1.jpg\nHat,"https://x.test/2.jpg\n"\nCap,u\n',
    "\n  \nProduct,URL\nShoe,https://x.test/1.jpg\n\n , \nHat,https://x.test/2.jpg\n\n",
    "Product,URL,,Note\nA,https://x.test/a.jpg\n,https://x.test/1.jpg\nShoe, , ,\nShoe\n,,,note\n",
    'Product,URLs\nShoe,"ftp://x.test/a.jpg https://x.test/b.jpg /c.jpg javascript:alert(1)"\n',
    "Product,URLs\n"
    'A,"https://x.test/1.jpg https://x.test/2.jpg https://x.test/1.jpg"\n'
    'B,"ftp://x.test/z https://x.test/1.jpg ftp://x.test/z"\n',
    'Product,URL\nA,"https://x.test/1 https://x.test/1"\n,https://x.test/2\n',
    "Product;URLs\nCafé ☕;https://x.test/1.jpg,https://x.test/é.jpg\n",
    '"a;b;c;d",Product,URL\nx,Shoe,https://x.test/1.jpg\n',
    "Product,URL,Note;a;b\nShoe,https://x.test/1.jpg,n;1;2\n",
    "ID\tName\tURLs\r1\tShoe\thttps://x.test/1.jpg\r2\t\thttps://x.test/2.jpg\r",
]


def outcome(data: bytes, max_rows: int = 1000, max_images: int = 1000) -> object:
    """What the reader makes of a file: its columns and rows, or its refusal, word for word."""
    try:
        return parse(data, max_rows=max_rows, max_images=max_images)
    except ManifestError as error:
        return error.status, error.title, error.description


@pytest.mark.parametrize(("data", "max_rows", "max_images"), REFUSALS)
def test_a_refusal_does_not_depend_on_where_the_chunks_end(
    data: bytes, max_rows: int, max_images: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a file refused when read in the usual chunks
    refused = outcome(data, max_rows, max_images)
    assert isinstance(refused, tuple) and refused[0] in (400, 413)
    # When it is read in one chunk, as a decode of the whole file would, Then word for word
    monkeypatch.setattr(decoding, "_CHUNK_BYTES", len(data) + 1)
    assert outcome(data, max_rows, max_images) == refused


@pytest.mark.parametrize("chunk", [4, 5, 7])
@pytest.mark.parametrize(
    "data",
    [
        data
        for data, _, _ in REFUSALS
        if len(data) < 1000  # the small ones: every chunk boundary is crossed somewhere
    ]
    + [text.encode() for text in ACCEPTED]
    + [
        "Product,URL\r\nCafé ☕,https://x.test/é.jpg\r\nCaf\xe9\r\n".encode("latin-1", "replace"),
        "Product,URL\r\nCafé ☕\r\n\r\n".encode() + b"\xc3\x28\n",
        "Product,URL\r\n\r\r\nCafé ☕\n".encode() + b"\xe2\x82",
        "Product,URL\r\n\r\r\nCafé ☕\n".encode() + b"\x00\n",
    ],
)
def test_the_reader_agrees_with_itself_at_every_chunk_boundary(
    data: bytes, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a tiny header scan, and the file read in one chunk
    monkeypatch.setattr(records, "_HEADER_SCAN_LIMIT", 6)
    monkeypatch.setattr(decoding, "_CHUNK_BYTES", len(data) + 1)
    whole = outcome(data)
    # When it is read in tiny chunks, so that line breaks, CRLFs and multi-byte sequences are
    # split between reads, Then it reads (or is refused) the same
    monkeypatch.setattr(decoding, "_CHUNK_BYTES", chunk)
    assert outcome(data) == whole


def whole_text_delimiter(text: str) -> str:
    # The delimiter rule applied to the whole text at once, from the pieces stream_delimiter
    # is made of: what the stream must answer, however its reads fall.
    return records._most_common(records._count_delimiters(text, records._header_start(text)))


@pytest.mark.parametrize("limit", [1, 2, 3, 6, 64])
@pytest.mark.parametrize(
    "text",
    [
        *ACCEPTED,
        " ;" * 10 + "\n\r\n" + "x" * 10 + ";Product;URL\n",
        " , ; \r\r\nA;B;C,D\n",
        "\r\n  \r\n,,\r\n",
        '"unclosed;;;\n,,,,',
        "\n\n\n",
        "",
    ],
)
def test_the_streamed_delimiter_is_the_whole_texts_at_any_scan_limit(
    text: str, limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(records, "_HEADER_SCAN_LIMIT", limit)
    assert records.stream_delimiter(io.StringIO(text, newline="")) == whole_text_delimiter(text)


# --- the summary (what the API reads) --------------------------------------------------------


@pytest.mark.parametrize("text", ACCEPTED)
def test_summary_counts_what_the_rows_hold(text: str) -> None:
    # Given a file the reader accepts (multi-line cells, blank lines, skipped rows,
    # duplicates, invalid URLs, other delimiters and line ends)
    manifest = reader(text)
    rows = list(manifest.rows())
    # When it is summarised, Then the columns, the counts and the skipped rows agree
    summary = summarise(manifest)
    assert summary.columns == manifest.columns
    assert (summary.rows, summary.total_slots) == (len(rows), len(slots(rows)))
    skipped = [(row.number, row.skip_reason) for row in rows if row.skip_reason]
    assert summary.skipped == summary.skipped_rows() == skipped


@pytest.mark.parametrize(("data", "max_rows", "max_images"), REFUSALS)
def test_summary_refuses_what_the_reader_refuses(
    data: bytes, max_rows: int, max_images: int
) -> None:
    with pytest.raises(ManifestError) as caught:
        summarise(reader(data, max_rows=max_rows, max_images=max_images))
    error = caught.value
    assert (error.status, error.title, error.description) == outcome(data, max_rows, max_images)


def test_seed_sample_summary_of_a_stored_file(tmp_path: Path) -> None:
    path = tmp_path / "upload.csv"
    path.write_bytes(SEED_SAMPLE.encode())
    summary = summarise_file(path, max_rows=10, max_images=10)
    assert (summary.columns.delimiter, summary.rows, summary.total_slots) == (",", 2, 3)
    assert summary.skipped == []
