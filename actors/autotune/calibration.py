"""Each format's measured map from its sample's fast score to the whole image's SSIMULACRA2."""

from __future__ import annotations

from dataclasses import dataclass

from actors.autotune.quality_search import clamp
from actors.formats import DEFAULT_TARGET


@dataclass(frozen=True)
class Calibration:
    """How one format's sample stands for the whole image."""

    slope: float  # SSIMULACRA2 of the whole image ≈ slope × fast score of the sample + offset
    offset: float
    start: int  # the quality that meets the default target on a typical photo
    step: float  # score points per quality step, typical, around the target
    sampler: str = "tiles"  # "tiles", or "shrunk": the whole image scaled down

    def fast_score_for(self, target: float) -> float:
        return (target - self.offset) / self.slope

    def start_for(self, target: float) -> int:
        return clamp(round(self.start + (target - DEFAULT_TARGET) / self.step))


# Measured by `python -m ops.bench.bytes --calibrate` (it prints these lines): the repo's photos
# and six 2 MP mosaics (not the photos the benchmark judges), each format at qualities 20..90;
# slope and offset by least squares of the whole encoded image's SSIMULACRA2 (PyPI
# `ssimulacra2`) on the encoded sample's fast score, over scores 40..90.
# Samples of tiles fit WebP and AVIF badly (residual sd 6.5 and 3.4 points, a WebP mosaic scoring
# up to 40 below its photo), hence their "shrunk" sampler (sd ~2.8 and ~2.2).
CALIBRATION: dict[str, Calibration] = {
    # residual sd 1.77, max 6.62 over 77 points
    "jpeg": Calibration(slope=1.016, offset=0.39, start=50, step=0.60),
    # residual sd 2.81, max 8.15 over 82 points
    "webp": Calibration(slope=0.954, offset=4.35, start=73, step=0.68, sampler="shrunk"),
    # residual sd 2.34, max 5.47 over 73 points
    "avif": Calibration(slope=0.846, offset=15.09, start=52, step=0.89, sampler="shrunk"),
}
PNG_CALIBRATION = Calibration(slope=1.0, offset=0.0, start=100, step=1.0, sampler="shrunk")
COMMON_SAMPLER = "shrunk"  # the sample on which formats' sizes are compared
