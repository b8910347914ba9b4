"""A job's outcomes for its CSV's slots, matched in one pass to its images read in index order.

The split numbers images by first appearance (storage/split.py), so as the writers walk the
slots in row order, a URL seen for the first time is exactly the next image in index order:
its outcome is that image's, with no lookup by URL. Only an image that more slots name is
kept, until its last slot has gone by. So a finish holds nothing per image but those: none
for a catalog of distinct URLs, where a dict of every URL's outcome held 94 MiB of a
100,000-image finish.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from actors.manifest.rows import Slot
from actors.report import INVALID, MISSING, ImageOutcome


class ImageResult(NamedTuple):
    """One image as the database holds it: its URL, how many slots name it, its outcome."""

    url: str
    slots: int
    outcome: ImageOutcome


@dataclass(slots=True)
class _Repeated:
    outcome: ImageOutcome
    slots_left: int


class InIndexOrder:
    """Each slot's outcome, asked for in row and position order (report.SlotOutcomes), from
    the job's images in index order, each read once."""

    def __init__(self, images: Iterable[ImageResult]) -> None:
        self._images = iter(images)
        self._next = next(self._images, None)
        self._repeated: dict[str, _Repeated] = {}  # URLs whose later slots are still to come

    def of(self, slot: Slot) -> ImageOutcome:
        if not slot.valid:
            return INVALID  # it never reached the pipeline
        repeated = self._repeated.get(slot.url)
        if repeated is not None:
            return self._again(slot.url, repeated)
        image = self._next
        if image is None or image.url != slot.url:
            return MISSING  # no image was recorded for it: the next one waits for its own slot
        self._next = next(self._images, None)
        if image.slots > 1:
            self._repeated[slot.url] = _Repeated(image.outcome, image.slots - 1)
        return image.outcome

    @property
    def held(self) -> int:
        """How many outcomes it holds: those of URLs whose later slots are still to come."""
        return len(self._repeated)

    def _again(self, url: str, repeated: _Repeated) -> ImageOutcome:
        repeated.slots_left -= 1
        if not repeated.slots_left:
            del self._repeated[url]
        return repeated.outcome
