"""Issue 9's small-image overhead: a catalog job of 400 px product photos, every URL distinct,
through the service against the bare Pillow loop in 2 processes on the same photos.

With small images the compression is cheap (~4 ms of CPU each), so what the service spends per
image around it (messages, database, Redis, files, downloads) decides the ratio.
"""

from __future__ import annotations

from ops.bench import overhead, photos
from ops.bench.report import GoalResult
from ops.bench.settings import Settings

GOAL = 0.85
DISTINCT_PHOTOS = 24


def run(settings: Settings) -> GoalResult:
    specs = photos.thumbnail_set(DISTINCT_PHOTOS)
    order = [n % len(specs) for n in range(settings.pick(20_000, 3_000))]
    result = GoalResult("9 scale")
    return overhead.compare(result, settings, specs, order, settings.pick(2, 1), GOAL, "400 px")
