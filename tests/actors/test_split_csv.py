"""What the split reads first of a large CSV: its head, the first distinct valid URLs."""

from __future__ import annotations

import io

from actors.manifest.reader import ManifestReader, open_manifest
from actors.split_csv import first_images
from storage.split import HeadImage


def manifest_of(text: str) -> ManifestReader:
    data = text.encode()
    return open_manifest(lambda: io.BytesIO(data), max_rows=100, max_images=100)


CSV = (
    "Product,URLs\n"
    'A,"https://x.test/1 ftp://x.test/bad https://x.test/2 https://x.test/1"\n'
    ",https://x.test/9\n"  # skipped: no product
    'B,"https://x.test/3 https://x.test/2"\n'
    "C,https://x.test/4\n"
    "D,https://x.test/1\n"
)


def test_the_head_is_the_first_distinct_valid_urls_with_their_slots_so_far() -> None:
    # Given a file of four distinct valid URLs, the first one repeated after the head
    # When the split reads the first three
    head = first_images(manifest_of(CSV), 3)
    # Then they come in first-appearance order, each with the slots read up to the fourth
    # URL's first slot: the invalid URL and the skipped row not among them
    assert head == [
        HeadImage("https://x.test/1", 2),
        HeadImage("https://x.test/2", 2),
        HeadImage("https://x.test/3", 1),
    ]


def test_a_file_no_larger_than_the_head_has_none() -> None:
    # Four distinct valid URLs fit a head of four: one commit does it all
    assert first_images(manifest_of(CSV), 4) is None
    assert first_images(manifest_of("Product,URL\nA,ftp://x.test/a\n"), 1) is None
