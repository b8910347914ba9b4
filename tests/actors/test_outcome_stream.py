"""Outcomes streamed in index order give each slot what a lookup by URL gives it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from actors.manifest.reader import ManifestReader, open_manifest
from actors.outcome_stream import ImageResult, InIndexOrder
from actors.report import (
    INVALID_URL_ERROR,
    NO_OUTCOME_ERROR,
    ByUrl,
    ImageOutcome,
    write_output_csv,
    write_report,
)

# Repeats within a row and across rows, an invalid URL twice, a skipped row, a URL whose
# last slot comes long after its first.
CSV = (
    "Product,URLs\n"
    'A,"https://x.test/1 https://x.test/2 https://x.test/1"\n'
    "B,https://x.test/3\n"
    'C,"ftp://x.test/bad https://x.test/4"\n'
    ",https://x.test/5\n"
    'D,"https://x.test/2 ftp://x.test/bad https://x.test/6"\n'
    "E,https://x.test/3\n"
)


def manifest_of(text: str) -> ManifestReader:
    data = text.encode()
    return open_manifest(lambda: io.BytesIO(data), max_rows=100, max_images=100)


def outcome(n: int) -> ImageOutcome:
    if n % 3 == 0:
        return ImageOutcome("failed", error="not_found: the origin answered 404")
    return ImageOutcome("ok", f"https://out.test/{n}.jpg", None, 1000, 400 + n, 64, 48, "jpeg")


def images_as_split(manifest: ManifestReader) -> list[ImageResult]:
    """The images the split makes: distinct valid URLs by first appearance, invalid last."""
    urls = [slot.url for row in manifest.rows() for slot in row.slots]
    valid = dict.fromkeys(slot.url for row in manifest.rows() for slot in row.slots if slot.valid)
    invalid = dict.fromkeys(url for url in urls if url not in valid)
    failed = ImageOutcome("failed", error=INVALID_URL_ERROR)
    return [ImageResult(url, urls.count(url), outcome(n)) for n, url in enumerate(valid)] + [
        ImageResult(url, urls.count(url), failed) for url in invalid
    ]


@pytest.mark.parametrize("write", [write_output_csv, write_report])
def test_streamed_outcomes_write_the_same_files_as_a_lookup(tmp_path: Path, write) -> None:
    # Given a job's images as the split numbers them, with their outcomes
    manifest = manifest_of(CSV)
    images = images_as_split(manifest)
    # When its files are written from the images in index order, and from a lookup by URL
    write(manifest, InIndexOrder(images), tmp_path / "streamed.csv")
    write(manifest, ByUrl({image.url: image.outcome for image in images}), tmp_path / "dict.csv")
    # Then they are the same, byte for byte
    assert (tmp_path / "streamed.csv").read_bytes() == (tmp_path / "dict.csv").read_bytes()


def test_a_url_named_again_is_kept_only_until_its_last_slot() -> None:
    manifest = manifest_of(CSV)
    stream = InIndexOrder(images_as_split(manifest))
    slots = [slot for row in manifest.rows() for slot in row.slots]
    held = []
    for slot in slots:
        stream.of(slot)
        held.append(stream.held)
    # /1 (twice in row 2) is let go within its row; /2 and /3 are held until rows 6 and 7
    assert held == [1, 2, 1, 2, 2, 2, 1, 1, 1, 0]


def test_a_slot_without_an_image_is_missing_and_the_next_image_waits_for_its_own() -> None:
    # Given images for the first and third URLs only (the second's row was lost)
    manifest = manifest_of(
        "Product,URL\nA,https://x.test/1\nB,https://x.test/2\nC,https://x.test/3\n"
    )
    slots = [slot for row in manifest.rows() for slot in row.slots]
    stream = InIndexOrder(
        [
            ImageResult("https://x.test/1", 1, outcome(1)),
            ImageResult("https://x.test/3", 1, outcome(2)),
        ]
    )
    # Then the second slot says so, and the third still gets its own outcome
    answers = [stream.of(slot) for slot in slots]
    assert answers[0] == outcome(1) and answers[2] == outcome(2)
    assert answers[1].error == NO_OUTCOME_ERROR
