"""`quality=auto` and `format=auto`: the smallest output that still looks good enough.

"Good enough" is a perceptual target on SSIMULACRA2's scale (0..100, higher is closer to the
input). Scoring a whole photo is far too slow to do a few times per image, so everything is
decided on a *sample*, then the whole image is encoded once, in the format whose output came out
smallest, at the quality found for it. Two kinds of sample:

- for JPEG, sixteen 64×64 tiles cut from the decoded image on its 16-pixel grid, picked to span
  its range of detail (flat sky to foliage) and pasted into one 256×256 image: the pixels keep
  their scale and JPEG cuts its blocks exactly as in the whole image;
- for WebP and AVIF, whose encoders decide globally (segments, filters, partitions) and treat a
  mosaic of unrelated tiles much harsher than the photo, the whole image scaled down to ~0.15 MP.

Each format's quality is found in a few encodes of its sample (a bracketing secant search). The
fast score (`actors.perceptual`) reads a little differently from SSIMULACRA2 and a sample behaves
a little differently from its image, so each format has a measured linear map from the sample's
fast score to the whole image's SSIMULACRA2: `CALIBRATION` below. Sizes are compared between
formats on one sample, the same pixels for all.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from actors.formats import DEFAULT_TARGET, LOSSY
from actors.perceptual import Reference

TILE = 64  # a multiple of 16: JPEG's MCU (4:2:0)
TILES = 16  # 16 tiles: a 256×256 sample, ~0.07 MP whatever the photo's size
MAX_PROBES = 4  # encodes of the sample per format, at most
CLOSE_ENOUGH = 1.5  # stop once a passing score is this close to the target (score points)
# The search never goes below 20: no photo needs less at any sane target, and images of a few
# dozen pixels, which have too few scales for the metric to be strict, would otherwise drop to 1.
QUALITIES = range(20, 101)


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
        return _clamp(round(self.start + (target - DEFAULT_TARGET) / self.step))


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
SHRUNK_PIXELS = 36 * TILE * TILE  # ~0.15 MP

Encoder = Callable[[Image.Image, str, int], bytes]  # a copy of the sample, format, quality


@dataclass(frozen=True)
class Probe:
    quality: int
    score: float  # the fast score of the encoded sample
    size: int  # bytes of the encoded sample


@dataclass(frozen=True)
class Choice:
    format: str
    quality: int
    sample_bytes: int  # its output's size for the sample formats are compared on
    encodes: int  # sample encodes spent, all formats together


class _Samples:
    """Each kind of sample of one image, made once, with its reference side of the score."""

    def __init__(self, image: Image.Image) -> None:
        self._image = image
        self._made: dict[str, tuple[Image.Image, Reference]] = {}

    def of(self, sampler: str) -> tuple[Image.Image, Reference]:
        if sampler not in self._made:
            pixels = sample_of(self._image, sampler)
            self._made[sampler] = pixels, Reference(visible(pixels))
        return self._made[sampler]


def choose(image: Image.Image, formats: Iterable[str], target: float, encode: Encoder) -> Choice:
    """The format among `formats` (and its quality) whose output is smallest at `target`."""
    samples = _Samples(image)
    choices = [_best_for(fmt, samples, target, encode) for fmt in formats]
    if len(choices) > 1:
        choices = [_on_common_sample(choice, samples, encode) for choice in choices]
    winner = min(choices, key=lambda choice: choice.sample_bytes)
    encodes = sum(choice.encodes for choice in choices)
    return Choice(winner.format, winner.quality, winner.sample_bytes, encodes)


def _best_for(fmt: str, samples: _Samples, target: float, encode: Encoder) -> Choice:
    calibration = CALIBRATION.get(fmt, PNG_CALIBRATION)
    pixels, reference = samples.of(calibration.sampler)
    if fmt not in LOSSY:  # PNG: lossless, one encode tells its size
        return Choice(fmt, 100, len(encode(pixels.copy(), fmt, 100)), 1)

    def probe(quality: int) -> Probe:
        data = encode(pixels.copy(), fmt, quality)
        return Probe(quality, reference.score(visible(decoded(data))), len(data))

    goal = calibration.fast_score_for(target)
    probes = search(probe, goal, calibration.start_for(target), calibration.step)
    found = pick(probes, goal)
    return Choice(fmt, found.quality, found.size, len(probes))


def _on_common_sample(choice: Choice, samples: _Samples, encode: Encoder) -> Choice:
    """Sizes compare only for the same pixels: a format searched on another sample encodes the
    common one once more (a tile mosaic and a scaled-down photo differ by 10-50 % in bytes
    per pixel, more than formats often differ by)."""
    if CALIBRATION.get(choice.format, PNG_CALIBRATION).sampler == COMMON_SAMPLER:
        return choice
    pixels, _ = samples.of(COMMON_SAMPLER)
    size = len(encode(pixels.copy(), choice.format, choice.quality))
    return Choice(choice.format, choice.quality, size, choice.encodes + 1)


# The search


def search(probe: Callable[[int], Probe], goal: float, start: int, step: float) -> list[Probe]:
    """Probes, in the order made, closing in on the lowest quality whose score reaches `goal`.

    It starts at `start`, where a typical photo meets the goal, and steps by `step`, the typical
    score points per quality step (then by the slope it has seen), until it brackets the goal;
    then it interpolates inside the bracket. It stops at MAX_PROBES, when the bracket is one
    quality step wide, or when a passing score is within CLOSE_ENOUGH of the goal.
    """
    probes = [probe(_clamp(start))]
    while len(probes) < MAX_PROBES:
        quality = _next_quality(probes, goal, step)
        if quality is None:
            break
        probes.append(probe(quality))
    return probes


def pick(probes: list[Probe], goal: float) -> Probe:
    """The smallest passing probe; if none passes, the best scoring one (the closest)."""
    passing = [p for p in probes if p.score >= goal]
    if passing:
        return min(passing, key=lambda p: (p.size, p.quality))
    return max(probes, key=lambda p: (p.score, -p.size))


def _next_quality(probes: list[Probe], goal: float, step: float) -> int | None:
    passing = [p for p in probes if p.score >= goal]
    failing = [p for p in probes if p.score < goal]
    low = max(failing, key=lambda p: p.quality) if failing else None
    high = min(passing, key=lambda p: p.quality) if passing else None
    if high is not None and (high.score - goal < CLOSE_ENOUGH or high.quality == QUALITIES[0]):
        return None
    if low is not None and high is not None:
        if high.quality - low.quality <= 1:
            return None
        # Inside the bracket: linear interpolation, rounded up (towards passing).
        share = (goal - low.score) / max(high.score - low.score, 1e-6)
        guess = math.ceil(low.quality + share * (high.quality - low.quality))
        return min(max(guess, low.quality + 1), high.quality - 1)
    last = probes[-1]
    if low is not None and low.quality == QUALITIES[-1]:
        return None  # even the best quality falls short
    slope = _observed_slope(probes) or step
    # Outside the bracket: jump by the deficit (or surplus), one step further to cross it.
    jump = (goal - last.score) / slope
    guess = last.quality + (math.ceil(jump) + 1 if jump > 0 else math.floor(jump) - 1)
    guess = _clamp(guess)
    return None if any(p.quality == guess for p in probes) else guess


def _observed_slope(probes: list[Probe]) -> float | None:
    if len(probes) < 2:
        return None
    a, b = probes[-2], probes[-1]
    slope = (b.score - a.score) / (b.quality - a.quality) if b.quality != a.quality else 0.0
    return slope if slope > 0.05 else None  # flat or inverted: noise, not a slope


def _clamp(quality: int) -> int:
    return min(max(quality, QUALITIES[0]), QUALITIES[-1])


# The sample


def sample(image: Image.Image) -> Image.Image:
    """TILES tiles spanning the image's range of detail; a small image is its own sample."""
    columns, rows = image.width // TILE, image.height // TILE
    if columns * rows < 2 * TILES:
        return image.copy()
    picked = _spread_by_detail(_detail(image, columns, rows))
    side = math.isqrt(TILES)
    out = Image.new(image.mode, (side * TILE, math.ceil(TILES / side) * TILE))
    if image.mode == "P":
        out.putpalette(image.getpalette() or [])
    for n, index in enumerate(picked):
        row, column = divmod(index, columns)
        box = (column * TILE, row * TILE, (column + 1) * TILE, (row + 1) * TILE)
        out.paste(image.crop(box), ((n % side) * TILE, (n // side) * TILE))
    out.info = dict(image.info)
    return out


def sample_of(image: Image.Image, sampler: str) -> Image.Image:
    return sample(image) if sampler == "tiles" else shrunk(image)


def shrunk(image: Image.Image) -> Image.Image:
    """The whole image scaled down to about SHRUNK_PIXELS; a small image is its own."""
    factor = math.sqrt(image.width * image.height / SHRUNK_PIXELS)
    if factor <= 1.5:
        return image.copy()
    size = (max(1, round(image.width / factor)), max(1, round(image.height / factor)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


def _detail(image: Image.Image, columns: int, rows: int) -> np.ndarray:
    """Mean absolute difference between neighbouring grey pixels, per tile, at half size (five
    times faster than at full size, and it ranks the tiles nearly the same)."""
    box = (0, 0, columns * TILE, rows * TILE)
    grey = np.asarray(image.convert("L").crop(box).reduce(2), dtype=np.int16)
    across = np.abs(np.diff(grey, axis=1, append=grey[:, -1:]))
    down = np.abs(np.diff(grey, axis=0, append=grey[-1:, :]))
    half = TILE // 2
    return (across + down).reshape(rows, half, columns, half).mean(axis=(1, 3)).ravel()


def _spread_by_detail(detail: np.ndarray) -> list[int]:
    """Tiles at evenly spaced ranks of detail, so the sample has the image's mix of content."""
    order = np.argsort(detail, kind="stable")
    return [int(order[(2 * n + 1) * len(order) // (2 * TILES)]) for n in range(TILES)]


# Pixels as a viewer sees them


def visible(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited on white (as the JPEG output is flattened)."""
    if image.mode == "RGB":
        return image
    if "A" in image.mode or image.info.get("transparency") is not None:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba)
        return flat
    return image.convert("RGB")


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
