"""`choose`: each format searched on its sample, then the smallest output at the target wins."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from PIL import Image

from actors.autotune.calibration import CALIBRATION, COMMON_SAMPLER, PNG_CALIBRATION
from actors.autotune.quality_search import Probe, pick, search
from actors.autotune.samples import sample_of
from actors.autotune.viewer import decoded, visible
from actors.formats import LOSSY
from actors.perceptual import Reference

Encoder = Callable[[Image.Image, str, int], bytes]  # a copy of the sample, format, quality


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
