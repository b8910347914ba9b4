"""The distinct URLs of a CSV's slots: what the split turns into images.

A URL named by several slots is fetched once, so the split needs each distinct URL once, with
how many slots name it (`total_images` counts slots). Only URLs are kept, never rows: this is
as large as the job's set of images, which de-duplication cannot do without.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.manifest.reader import ManifestReader


@dataclass(frozen=True, slots=True)
class DistinctUrls:
    """Each distinct URL with its number of slots, in first-appearance order; `invalid` holds
    those that are not absolute http(s) URLs, which become failed images at once."""

    valid: dict[str, int]
    invalid: dict[str, int]


def distinct_urls(manifest: ManifestReader) -> DistinctUrls:
    """Every slot's URL counted once it is read, or the `ManifestError` a row raises."""
    urls = DistinctUrls({}, {})
    for row in manifest.rows():
        for slot in row.slots:
            seen = urls.valid if slot.valid else urls.invalid
            seen[slot.url] = seen.get(slot.url, 0) + 1
    return urls
