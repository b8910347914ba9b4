"""Reading an uploaded CSV into products and image slots (contract §2)."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from actors.errors import PipelineError
from actors.manifest import decoding, records
from actors.manifest.errors import ManifestError
from actors.manifest.header import Columns
from actors.manifest.parser import Manifest, load_manifest, parse_manifest
from actors.manifest.rows import NO_PRODUCT, NO_URL, Slot, is_fetchable_url
from actors.manifest.summary import ManifestSummary, summarise_file

SEED_SAMPLE = (
    "S. No, Product Name, Input URLs\n"
    '1,SKU1,"https://example.com/a.jpg, https://example.com/b.png"\n'
    "4,imageone,https://example.com/800/600.jpg\n"
)


def parse(text: str | bytes, *, max_rows: int = 1000, max_images: int = 1000) -> Manifest:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse_manifest(data, max_rows=max_rows, max_images=max_images)


def rejection(text: str | bytes, *, max_rows: int = 1000, max_images: int = 1000) -> ManifestError:
    with pytest.raises(ManifestError) as caught:
        parse(text, max_rows=max_rows, max_images=max_images)
    return caught.value


def urls(manifest: Manifest) -> list[str]:
    return [slot.url for slot in manifest.slots]


# --- the seed's sample -----------------------------------------------------------------------


def test_seed_sample_reads_exactly() -> None:
    # Given the seed's own sample, spaces after the header's commas included
    # When it is parsed
    manifest = parse(SEED_SAMPLE)
    # Then the header is trimmed, every role is found and the rows carry their slots
    assert manifest.delimiter == ","
    assert manifest.header == ("S. No", "Product Name", "Input URLs")
    assert (manifest.serial_column, manifest.product_column, manifest.url_column) == (0, 1, 2)
    assert [(row.number, row.product, row.skip_reason) for row in manifest.rows] == [
        (2, "SKU1", None),
        (3, "imageone", None),
    ]
    assert manifest.slots == [
        Slot(2, 0, "https://example.com/a.jpg", True),
        Slot(2, 1, "https://example.com/b.png", True),
        Slot(3, 0, "https://example.com/800/600.jpg", True),
    ]
    assert manifest.rows[0].cells == (
        "1",
        "SKU1",
        "https://example.com/a.jpg, https://example.com/b.png",
    )


def test_load_manifest_reads_a_stored_file(tmp_path: Path) -> None:
    # Given the sample stored on disk
    path = tmp_path / "in.csv"
    path.write_bytes(SEED_SAMPLE.encode())
    # When it is loaded, Then it reads as the same bytes parse
    assert load_manifest(path, max_rows=10, max_images=10) == parse(SEED_SAMPLE)


# --- header matching -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["productname", "product", "name"])
def test_every_product_alias_is_recognised(name: str) -> None:
    manifest = parse(f"id,{name},url\n1,Shoe,https://x.test/1.jpg\n")
    assert manifest.product_column == 1
    assert manifest.rows[0].product == "Shoe"


@pytest.mark.parametrize(
    "name", ["inputurls", "inputimageurls", "imageurls", "urls", "imageurl", "url"]
)
def test_every_url_alias_is_recognised(name: str) -> None:
    manifest = parse(f"product,{name}\nShoe,https://x.test/1.jpg\n")
    assert manifest.url_column == 1
    assert urls(manifest) == ["https://x.test/1.jpg"]


@pytest.mark.parametrize("name", ["sno", "serialnumber", "serial", "id"])
def test_every_serial_alias_is_recognised(name: str) -> None:
    assert parse(f"product,url,{name}\nShoe,https://x.test/1.jpg,7\n").serial_column == 2


@pytest.mark.parametrize(
    ("header", "roles"),
    [
        ("S. No, Product Name, Input URLs", (0, 1, 2)),
        (" Product Name ,Input-Image_URLs", (None, 0, 1)),
        ("PRODUCT_NAME;IMAGE.URL;Serial-Number", (2, 0, 1)),
        ("Serial No.,Product\u00a0Name,Image  Urls", (None, 1, 2)),
        ("ID\tName\tURLs", (0, 1, 2)),
    ],
)
def test_header_cells_match_ignoring_case_spaces_dots_underscores_and_dashes(
    header: str, roles: tuple[int | None, int, int]
) -> None:
    # Given a header spelled in one of many ways (the row uses the header's delimiter)
    delimiter = ";" if ";" in header else "\t" if "\t" in header else ","
    row = delimiter.join(["x"] * len(header.split(delimiter)))
    # When it is parsed, Then the serial, product and URL columns are where they are
    manifest = parse(f"{header}\n{row}\n")
    assert (manifest.serial_column, manifest.product_column, manifest.url_column) == roles


def test_serial_column_is_optional() -> None:
    assert parse("Product,URL\nShoe,https://x.test/1.jpg\n").serial_column is None


def test_most_specific_alias_wins_over_column_order() -> None:
    # Given a "Name" column before a "Product Name" column, and "URL" before "Image URLs"
    manifest = parse("Name,URL,Product Name,Image URLs\nn,https://x.test/u,p,https://x.test/i\n")
    # Then the more specific names are chosen
    assert (manifest.product_column, manifest.url_column) == (2, 3)


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
    manifest = parse(f"{header}\n{row}\n")
    # Then the delimiter is found and the cells split on it only
    assert manifest.delimiter == delimiter
    assert manifest.rows[0].product == "SKU1"
    assert urls(manifest) == ["https://x.test/a.jpg", "https://x.test/b.jpg"]


def test_semicolon_file_keeps_unquoted_commas_inside_the_url_cell() -> None:
    manifest = parse("Product;URLs\nShoe;https://x.test/1.jpg,https://x.test/2.jpg\n")
    assert urls(manifest) == ["https://x.test/1.jpg", "https://x.test/2.jpg"]


def test_delimiters_inside_quoted_header_cells_do_not_count() -> None:
    # Given three semicolons inside a quoted header cell and two commas outside
    manifest = parse('"a;b;c;d",Product,URL\nx,Shoe,https://x.test/1.jpg\n')
    # Then comma is the delimiter
    assert manifest.delimiter == ","
    assert manifest.header == ("a;b;c;d", "Product", "URL")


def test_a_tie_between_delimiters_picks_comma() -> None:
    manifest = parse("Product,URL,Note;a;b\nShoe,https://x.test/1.jpg,n;1;2\n")
    assert manifest.delimiter == ","
    assert manifest.rows[0].cells == ("Shoe", "https://x.test/1.jpg", "n;1;2")


def test_utf8_bom_is_dropped() -> None:
    manifest = parse(b"\xef\xbb\xbf" + SEED_SAMPLE.encode())
    assert manifest.header[0] == "S. No"
    assert manifest.serial_column == 0


def test_crlf_line_ends_read_like_lf() -> None:
    assert parse(SEED_SAMPLE.replace("\n", "\r\n")) == parse(SEED_SAMPLE)


def test_non_ascii_text_survives() -> None:
    manifest = parse("Product,URL\nCafé ☕,https://x.test/é.jpg\n")
    assert manifest.rows[0].product == "Café ☕"
    assert urls(manifest) == ["https://x.test/é.jpg"]


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
    manifest = parse(f'Product,URLs\nShoe,"{cell}"\nHat,https://x.test/6.jpg\n')
    # Then every URL is a slot in order, trimmed, with no empty piece
    assert [(s.row, s.position, s.url) for s in manifest.slots] == [
        (2, 0, "https://x.test/1.jpg"),
        (2, 1, "https://x.test/2.jpg"),
        (2, 2, "https://x.test/3.jpg"),
        (2, 3, "https://x.test/4.jpg"),
        (2, 4, "https://x.test/5.jpg"),
        (3, 0, "https://x.test/6.jpg"),
    ]


def test_spaces_before_an_opening_quote_are_skipped_as_in_the_seed_style() -> None:
    # Given a row written like the seed's header: a space after each comma
    manifest = parse(
        'S. No, Product Name, Input URLs\n1, SKU1, "https://x.test/a, https://x.test/b"\n'
    )
    # Then the quoted cell is still one cell holding both URLs
    assert manifest.rows[0].cells == ("1", "SKU1", "https://x.test/a, https://x.test/b")
    assert urls(manifest) == ["https://x.test/a", "https://x.test/b"]


def test_a_multiline_quoted_cell_is_one_row() -> None:
    # Given a row whose quoted cells span three lines
    text = 'Product,URL\n"Shoe\nred",https://x.test/1.jpg\nHat,"https://x.test/2.jpg\n"\nCap,u\n'
    manifest = parse(text)
    # Then rows are numbered by records, not by lines
    assert [(row.number, row.product) for row in manifest.rows] == [
        (2, "Shoe\nred"),
        (3, "Hat"),
        (4, "Cap"),
    ]


def test_blank_lines_are_not_data_rows_but_keep_their_row_number() -> None:
    # Given blank lines before the header, between rows and made of delimiters only
    text = "\n  \nProduct,URL\nShoe,https://x.test/1.jpg\n\n , \nHat,https://x.test/2.jpg\n\n"
    manifest = parse(text)
    # Then only the two products are rows, numbered as a spreadsheet shows them
    assert [(row.number, row.product) for row in manifest.rows] == [(4, "Shoe"), (7, "Hat")]
    assert manifest.skipped == []


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
    manifest = parse(f"Product,URL,,Note\nA,https://x.test/a.jpg\n{line}\nB,https://x.test/b.jpg\n")
    # Then the middle row is kept, in place, as skipped with its reason and no slot
    assert [row.skip_reason for row in manifest.rows] == [None, reason, None]
    assert [(row.number, row.skip_reason) for row in manifest.skipped] == [(3, reason)]
    assert manifest.rows[1].slots == ()
    assert [slot.row for slot in manifest.slots] == [2, 4]


def test_short_and_long_rows_are_tolerated_and_cells_kept_as_read() -> None:
    manifest = parse("S. No,Product,URL\n1,Shoe \n2,Hat,https://x.test/1.jpg,extra,\n")
    short, long = manifest.rows
    assert (short.cells, short.product, short.skip_reason) == (("1", "Shoe "), "Shoe", NO_URL)
    assert long.cells == ("2", "Hat", "https://x.test/1.jpg", "extra", "")
    assert urls(manifest) == ["https://x.test/1.jpg"]


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
    manifest = parse(
        'Product,URLs\nShoe,"ftp://x.test/a.jpg https://x.test/b.jpg /c.jpg javascript:alert(1)"\n'
    )
    # Then every piece is a slot, the invalid ones marked
    assert [(slot.url, slot.valid) for slot in manifest.slots] == [
        ("ftp://x.test/a.jpg", False),
        ("https://x.test/b.jpg", True),
        ("/c.jpg", False),
        ("javascript:alert(1)", False),
    ]
    assert manifest.rows[0].skip_reason is None
    assert manifest.distinct_urls() == ["https://x.test/b.jpg"]
    assert manifest.invalid_urls() == ["ftp://x.test/a.jpg", "/c.jpg", "javascript:alert(1)"]


def test_duplicate_urls_count_in_every_slot_but_once_in_distinct_urls() -> None:
    # Given a URL twice in one row and again in another, and a repeated invalid URL
    manifest = parse(
        "Product,URLs\n"
        'A,"https://x.test/1.jpg https://x.test/2.jpg https://x.test/1.jpg"\n'
        'B,"ftp://x.test/z https://x.test/1.jpg ftp://x.test/z"\n'
    )
    # Then each slot is an image, and each distinct URL appears once, in first-seen order
    assert len(manifest.slots) == 6
    assert manifest.distinct_urls() == ["https://x.test/1.jpg", "https://x.test/2.jpg"]
    assert manifest.invalid_urls() == ["ftp://x.test/z"]


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
    assert len(parse(f"Product,URL\n{rows}", max_rows=4).rows) == 4


def test_more_image_slots_than_the_limit_is_413_with_both_numbers() -> None:
    # Given 1,001 slots (a duplicate and an invalid URL among them) and a skipped row's URL
    rows = "".join(f"P{i},https://x.test/{i}.jpg\n" for i in range(999))
    text = f'Product,URL\n{rows}Dup,"https://x.test/0.jpg ftp://bad"\n,https://x.test/s.jpg\n'
    error = rejection(text, max_rows=2000, max_images=1000)
    assert (error.status, error.title) == (413, "Too many images")
    assert "the file names 1,001 images" in error.description
    assert "the limit is 1,000" in error.description


def test_image_slots_at_the_limit_are_accepted() -> None:
    manifest = parse(
        'Product,URL\nA,"https://x.test/1 https://x.test/1"\n,https://x.test/2\n', max_images=2
    )
    assert len(manifest.slots) == 2


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


# --- scale -----------------------------------------------------------------------------------


def test_a_hundred_thousand_rows_parse_quickly() -> None:
    # Given 100,000 rows of two URLs each (about 9 MB)
    lines = [
        f'{i},SKU{i},"https://cdn.x.test/p/{i}/a.jpg, https://cdn.x.test/p/{i}/b.png"'
        for i in range(100_000)
    ]
    data = ("S. No,Product Name,Input URLs\r\n" + "\r\n".join(lines)).encode()
    # When they are parsed
    started = time.perf_counter()
    manifest = parse_manifest(data, max_rows=100_000, max_images=200_000)
    elapsed = time.perf_counter() - started
    # Then all are read, and far faster than anything quadratic (~0.7 s on a slow CI core)
    assert (len(manifest.rows), len(manifest.slots)) == (100_000, 200_000)
    assert manifest.rows[-1].number == 100_001
    assert elapsed < 5


# --- the streamed summary (what the API reads) -----------------------------------------------

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


def summarise(data: bytes, tmp_path: Path, max_rows: int, max_images: int) -> ManifestSummary:
    path = tmp_path / "upload.csv"
    path.write_bytes(data)
    return summarise_file(path, max_rows=max_rows, max_images=max_images)


@pytest.mark.parametrize(("data", "max_rows", "max_images"), REFUSALS)
def test_summary_refuses_what_parse_refuses_with_the_same_words(
    data: bytes, max_rows: int, max_images: int, tmp_path: Path
) -> None:
    # Given a file parse_manifest refuses
    with pytest.raises(ManifestError) as parsed:
        parse_manifest(data, max_rows=max_rows, max_images=max_images)
    # When it is summarised from disk, Then the refusal is word for word the same
    with pytest.raises(ManifestError) as summarised:
        summarise(data, tmp_path, max_rows, max_images)
    expected = (parsed.value.status, parsed.value.title, parsed.value.description)
    assert (summarised.value.status, summarised.value.title, summarised.value.description) == (
        expected
    )


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


@pytest.mark.parametrize("text", ACCEPTED)
def test_summary_counts_what_parse_reads(text: str, tmp_path: Path) -> None:
    # Given a file parse_manifest accepts (multi-line cells, blank lines, skipped rows,
    # duplicates, invalid URLs, other delimiters and line ends)
    manifest = parse(text)
    # When it is summarised, Then the columns, the counts and the skipped rows agree
    summary = summarise(text.encode(), tmp_path, 1000, 1000)
    found = (manifest.product_column, manifest.url_column, manifest.serial_column)
    assert summary.columns == Columns(manifest.delimiter, manifest.header, *found)
    assert summary.rows == len(manifest.rows)
    assert summary.total_slots == manifest.total_slots == len(manifest.slots)
    assert summary.skipped == summary.skipped_rows() == manifest.skipped_rows()
    assert manifest.skipped_rows() == [
        (row.number, str(row.skip_reason)) for row in manifest.skipped
    ]


def test_seed_sample_summary(tmp_path: Path) -> None:
    summary = summarise(SEED_SAMPLE.encode(), tmp_path, 10, 10)
    assert (summary.columns.delimiter, summary.rows, summary.total_slots) == (",", 2, 3)
    assert summary.skipped == []


@pytest.mark.parametrize("chunk", [4, 5, 7])
@pytest.mark.parametrize(
    "data",
    [
        data
        for data, _, _ in REFUSALS
        if len(data) < 1000  # the small ones: every chunk boundary is crossed somewhere
    ]
    + [
        "Product,URL\r\nCafé ☕,https://x.test/é.jpg\r\nCaf\xe9\r\n".encode("latin-1", "replace"),
        "Product,URL\r\nCafé ☕\r\n\r\n".encode() + b"\xc3\x28\n",
        "Product,URL\r\n\r\r\nCafé ☕\n".encode() + b"\xe2\x82",
        "Product,URL\r\n\r\r\nCafé ☕\n".encode() + b"\x00\n",
        "Product,URL\nCafé ☕,https://x.test/é.jpg\n".encode(),
    ],
)
def test_summary_agrees_at_every_chunk_boundary(
    data: bytes, chunk: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given tiny chunks and a tiny header scan, so that line breaks, CRLFs, multi-byte
    # sequences and header lines are split between reads
    monkeypatch.setattr(decoding, "_CHUNK_BYTES", chunk)
    monkeypatch.setattr(records, "_HEADER_SCAN_LIMIT", 6)
    # Then the summary still says what parse_manifest says
    try:
        manifest = parse_manifest(data, max_rows=1000, max_images=1000)
    except ManifestError as error:
        with pytest.raises(ManifestError) as caught:
            summarise(data, tmp_path, 1000, 1000)
        assert caught.value.description == error.description
    else:
        summary = summarise(data, tmp_path, 1000, 1000)
        assert summary.columns.delimiter == manifest.delimiter
        assert (summary.total_slots, summary.skipped) == (
            manifest.total_slots,
            manifest.skipped_rows(),
        )


def test_summary_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    # Given a ~10 MB CSV of 120,000 rows with two URLs each, a few of them skipped
    lines = [
        f'{i},{f"SKU{i}" if i % 1000 else ""},"https://cdn.x.test/p/{i}/a.jpg, '
        f'https://cdn.x.test/p/{i}/b.png"'
        for i in range(120_000)
    ]
    path = tmp_path / "big.csv"
    path.write_text("S. No,Product Name,Input URLs\r\n" + "\r\n".join(lines), newline="")
    size = path.stat().st_size
    del lines
    assert size > 10_000_000
    # When it is summarised under tracemalloc
    tracemalloc.start()
    try:
        summary = summarise_file(path, max_rows=120_000, max_images=240_000)
        _, summary_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        # and, to show the measure can fail, parsed whole
        manifest = load_manifest(path, max_rows=120_000, max_images=240_000)
        _, parse_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Then both read the same, the summary in a small fraction of the file's size, while the
    # full parse holds more than the file
    assert (summary.rows, summary.total_slots) == (120_000, 239_760)
    assert summary.skipped_rows() == manifest.skipped_rows()
    assert len(summary.skipped) == 120
    assert summary_peak < size / 4, f"summary peak {summary_peak:,} B for {size:,} B"
    assert parse_peak > size, f"parse peak {parse_peak:,} B for {size:,} B"


# --- the streaming reader --------------------------------------------------------------------


@pytest.mark.parametrize(("data", "max_rows", "max_images"), REFUSALS)
def test_the_reader_refuses_what_parse_refuses_with_the_same_words(
    data: bytes, max_rows: int, max_images: int, tmp_path: Path
) -> None:
    from actors.manifest.reader import open_manifest

    with pytest.raises(ManifestError) as parsed:
        parse_manifest(data, max_rows=max_rows, max_images=max_images)
    path = tmp_path / "upload.csv"
    path.write_bytes(data)
    with pytest.raises(ManifestError) as streamed:
        list(open_manifest(path, max_rows=max_rows, max_images=max_images).rows())
    assert streamed.value.description == parsed.value.description


@pytest.mark.parametrize("text", ACCEPTED)
def test_the_reader_reads_what_parse_reads(text: str, tmp_path: Path) -> None:
    from actors.manifest.reader import open_manifest

    manifest = parse(text)
    path = tmp_path / "upload.csv"
    path.write_bytes(text.encode())
    streamed = open_manifest(path, max_rows=1000, max_images=1000)
    found = (manifest.product_column, manifest.url_column, manifest.serial_column)
    assert streamed.columns == Columns(manifest.delimiter, manifest.header, *found)
    assert tuple(streamed.rows()) == manifest.rows
