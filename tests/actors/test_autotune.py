"""actors.autotune and actors.perceptual: the quality search and the format choice on real photos.

The search is judged here by the fast metric itself (what it optimises); the benchmark
(`python -m ops.bench.bytes`) judges its outputs with SSIMULACRA2.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from PIL import Image

from actors import autotune
from actors.autotune import CALIBRATION, MAX_PROBES, TILE, TILES, Probe, choose, search
from actors.formats import DEFAULT_TARGET
from actors.imaging import JobOptions, compress, encode_pixels
from actors.perceptual import Reference
from tests.images import list_photos, open_image, photo_bytes

MAX_PIXELS = 50_000_000
LOSSY = ("jpeg", "webp", "avif")


def rgb(name: str) -> Image.Image:
    return open_image(photo_bytes(name)).convert("RGB")


class CountingEncoder:
    """The real encoder (`imaging.encode_pixels`), counting its calls per format."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def __call__(self, image: Image.Image, fmt: str, quality: int) -> bytes:
        self.calls[fmt] = self.calls.get(fmt, 0) + 1
        return encode_pixels(image, fmt, quality)


def fast_score_of_sample(image: Image.Image, fmt: str, quality: int) -> float:
    pixels = autotune.sample_of(image, CALIBRATION[fmt].sampler)
    encoded = autotune.decoded(encode_pixels(pixels.copy(), fmt, quality))
    return Reference(pixels).score(autotune.visible(encoded))


# The fast metric


def test_an_image_scores_100_against_itself() -> None:
    image = rgb("coffee.jpg")
    assert Reference(image).score(image.copy()) == pytest.approx(100.0)


def test_the_score_falls_as_jpeg_quality_falls() -> None:
    # Given a real photo and its JPEGs at three qualities
    image = rgb("rocket.jpg")
    reference = Reference(image)
    scores = []
    for quality in (90, 60, 30):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        # When each is scored against the photo
        scores.append(reference.score(open_image(out.getvalue()).convert("RGB")))
    # Then a lower quality scores lower
    assert scores[0] > scores[1] > scores[2]


def test_images_of_different_sizes_are_not_compared() -> None:
    with pytest.raises(ValueError):
        Reference(rgb("coffee.jpg")).score(rgb("rocket.jpg"))


# The sample


def test_a_large_photo_is_sampled_as_sixteen_tiles_of_its_own_pixels() -> None:
    # Given a 2 MP photo
    image = rgb("retina.jpg")
    # When it is sampled
    tiles = autotune.sample(image)
    # Then the sample is a 4×4 mosaic of 64-px tiles, each one cut from the photo on its grid
    assert tiles.size == (4 * TILE, 4 * TILE)
    cuts = {
        image.crop((x, y, x + TILE, y + TILE)).tobytes()
        for x in range(0, image.width - TILE + 1, TILE)
        for y in range(0, image.height - TILE + 1, TILE)
    }
    for n in range(TILES):
        x, y = (n % 4) * TILE, (n // 4) * TILE
        assert tiles.crop((x, y, x + TILE, y + TILE)).tobytes() in cuts


def test_a_small_photo_is_its_own_sample() -> None:
    image = rgb("chelsea.png")  # 451×300: fewer than 32 whole tiles
    assert autotune.sample(image).tobytes() == image.tobytes()


# The search, on a score that is known


def linear_probe(goal_quality: int, calls: list[int]) -> Callable[[int], Probe]:
    """A made-up photo whose score rises 0.7 a quality step and reaches 66 at `goal_quality`."""

    def probe(quality: int) -> Probe:
        calls.append(quality)
        return Probe(quality, 66 + 0.7 * (quality - goal_quality), 1000 + 50 * quality)

    return probe


@pytest.mark.parametrize("goal_quality", [22, 35, 55, 80, 97])
def test_the_search_finds_the_lowest_passing_quality_in_few_encodes(goal_quality: int) -> None:
    # Given a photo whose score meets the goal from `goal_quality` on, and a start far off
    calls: list[int] = []
    # When the search runs from a typical start with a typical slope
    probes = search(linear_probe(goal_quality, calls), 66.0, start=55, step=0.6)
    found = autotune.pick(probes, 66.0)
    # Then it used at most MAX_PROBES encodes, and what it picked passes, within 2 of the lowest
    assert len(calls) == len(probes) <= MAX_PROBES
    assert found.score >= 66.0
    assert goal_quality <= found.quality <= goal_quality + 2


def test_the_search_never_goes_below_its_floor() -> None:
    # Given a photo (a tiny one, say) that would pass at any quality
    calls: list[int] = []
    probes = search(linear_probe(1, calls), 66.0, start=55, step=0.6)
    # Then the lowest quality tried, and picked, is the floor
    assert min(calls) >= autotune.QUALITIES[0]
    assert autotune.pick(probes, 66.0).quality == autotune.QUALITIES[0]


def test_a_goal_out_of_reach_gives_the_best_quality_tried() -> None:
    # Given a photo that never reaches the goal
    calls: list[int] = []
    probes = search(lambda q: (calls.append(q), Probe(q, q / 10, q))[1], 66.0, start=55, step=0.6)
    # Then the search stops within its budget and keeps the highest score it saw
    assert len(calls) <= MAX_PROBES
    assert autotune.pick(probes, 66.0).quality == max(calls)


# The search, on real photos


@pytest.mark.parametrize("fmt", LOSSY)
@pytest.mark.parametrize("name", list_photos())
def test_quality_auto_meets_the_target_on_the_sample(name: str, fmt: str) -> None:
    # Given a real photo and one lossy format
    image = rgb(name)
    encoder = CountingEncoder()
    # When the quality is chosen for the default target
    choice = choose(image, [fmt], DEFAULT_TARGET, encoder)
    # Then a handful of sample encodes were made, and the sample at that quality meets the
    # target on the fast metric, through this format's calibration
    assert encoder.calls == {fmt: choice.encodes} and choice.encodes <= MAX_PROBES
    goal = CALIBRATION[fmt].fast_score_for(DEFAULT_TARGET)
    assert fast_score_of_sample(image, fmt, choice.quality) >= goal


@pytest.mark.parametrize("name", ["astronaut.jpg", "retina.jpg", "hubble_deep_field.jpg"])
def test_the_whole_image_lands_near_the_target(name: str) -> None:
    # Given a real photo compressed with quality=auto as JPEG
    data = photo_bytes(name)
    result = compress(data, JobOptions(format="jpeg", quality="auto"), MAX_PIXELS)
    # When the whole output is scored against the whole decoded input
    calibration = CALIBRATION["jpeg"]
    score = Reference(rgb(name)).score(open_image(result.data).convert("RGB"))
    # Then it is near the target: the sample stands for the image within a few points
    target = DEFAULT_TARGET
    assert abs(calibration.slope * score + calibration.offset - target) <= 6


@pytest.mark.parametrize("fmt", LOSSY)
def test_a_higher_target_never_gives_a_lower_quality_or_fewer_bytes(fmt: str) -> None:
    # Given one photo
    data = photo_bytes("coffee.jpg")
    # When it is compressed for rising targets
    results = [
        compress(data, JobOptions(format=fmt, quality="auto", target=t), MAX_PIXELS)
        for t in (50.0, 62.0, 74.0, 86.0)
    ]
    # Then quality and bytes rise with the target
    qualities = [r.quality or 0 for r in results]
    sizes = [len(r.data) for r in results]
    assert qualities == sorted(qualities) and sizes == sorted(sizes)
    assert qualities[0] < qualities[-1]


# The format choice


def test_format_auto_picks_the_smallest_format_on_the_same_pixels() -> None:
    # Given a real photo and every lossy format allowed
    image = rgb("astronaut.jpg")
    encoder = CountingEncoder()
    # When auto chooses
    choice = choose(image, LOSSY, DEFAULT_TARGET, encoder)
    # Then each format was searched within its budget, and the winner is the one whose output
    # is smallest for the sample the formats are compared on
    singles = {fmt: choose(image, [fmt], DEFAULT_TARGET, CountingEncoder()) for fmt in LOSSY}
    assert set(encoder.calls) == set(LOSSY)
    # (plus one encode of the common sample for a format searched on another one)
    assert all(count <= MAX_PROBES + 1 for count in encoder.calls.values())
    assert choice.encodes == sum(encoder.calls.values())
    common = autotune.sample_of(image, autotune.COMMON_SAMPLER)
    sizes = {fmt: len(encode_pixels(common.copy(), fmt, c.quality)) for fmt, c in singles.items()}
    assert choice.format == min(sizes, key=lambda fmt: sizes[fmt])
    assert choice.sample_bytes == min(sizes.values())


@pytest.mark.parametrize(
    ("accept", "allowed"),
    [(("jpeg",), {"jpeg"}), (("png",), {"png"}), (("webp", "jpeg"), {"webp", "jpeg"})],
)
def test_format_auto_only_writes_an_accepted_format(
    accept: tuple[str, ...], allowed: set[str]
) -> None:
    options = JobOptions(format="auto", quality="auto", accept=accept)
    result = compress(photo_bytes("rocket.jpg"), options, MAX_PIXELS)
    assert result.format in allowed
    assert open_image(result.data).size == (640, 427)
