"""Goal 3, bytes: `quality=auto` output against Pillow's JPEG at equal SSIMULACRA2.

Photos: the benchmark's 2-8 MP mosaics of real photographs (`photos.mixed_set`), which are not
among the photos `--calibrate` fits the run-time metric on (the repo's photos and the 2 MP set).

For each photo, `actors.imaging.compress` writes it three ways: as the seed did (Pillow JPEG,
quality 50), `format=jpeg&quality=auto` ("JPEG only") and `format=auto&quality=auto`. Every output
is judged against the decoded input with SSIMULACRA2 itself (the PyPI port, on the whole image).
"Equal SSIMULACRA2": Pillow JPEG (progressive, optimised, as the service writes it) is encoded at
a few qualities and scored too; its bytes at exactly our output's score are interpolated between
the two qualities that bracket it (log bytes linear in the score). The ratio is ours divided by
that, per photo; the checks use the median, and the spread is printed. CPU time is each variant's
`compress` call (decode included, best of two) over the seed's on the same photo, per photo.

`python -m ops.bench.bytes [--quick]` runs this goal alone; `--calibrate` measures the constants
in `actors.autotune.CALIBRATION` and prints them.
"""

from __future__ import annotations

import argparse
import io
import math
import multiprocessing
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from ssimulacra2 import compute_ssimulacra2  # type: ignore[import-untyped]

from actors.formats import DEFAULT_TARGET
from actors.imaging import Compressed, JobOptions, compress, encode_pixels
from ops.bench import photos
from ops.bench.report import Check, GoalResult
from ops.bench.settings import Settings

BYTES_GOAL_AUTO = 0.70
BYTES_GOAL_JPEG = 0.85
CPU_GOAL = 2.0
MAX_PIXELS = 50_000_000
SEED = JobOptions(format="jpeg", quality=50)
VARIANTS = {
    "jpeg-only": JobOptions(format="jpeg", quality="auto"),
    "auto": JobOptions(format="auto", quality="auto"),
}
SWEEP = (30, 45, 60, 75, 90)  # Pillow qualities scored first; more only if a score falls outside
WIDER = (15, 97)
PROCESSES = 2


@dataclass
class Photo:
    path: Path
    megapixels: float
    outputs: dict[str, bytes] = field(default_factory=dict)  # variant -> bytes
    formats: dict[str, str] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # variant (and "seed") -> seconds
    scores: dict[str, float] = field(default_factory=dict)  # variant -> SSIMULACRA2
    pillow: dict[int, tuple[int, float]] = field(default_factory=dict)  # quality -> bytes, score


def run(settings: Settings) -> GoalResult:
    result = GoalResult("3 bytes")
    specs = photos.mixed_set(settings.pick(10, 4))
    shots = [
        Photo(path, spec.megapixels) for path, spec in zip(photos.ensure(specs), specs, strict=True)
    ]
    result.add(f"photos: {len(shots)} of 2-8 MP", sum(s.megapixels for s in shots), "MP")
    for shot in shots:
        _compress_all(shot)  # serial, before the judging pool starts: CPU times undisturbed
    _judge(shots)
    _report(shots, result)
    return result


# Compressing, timed


def _compress_all(photo: Photo) -> None:
    data = photo.path.read_bytes()
    photo.cpu["seed"] = _best_cpu(_compressing(data, SEED))
    photo.outputs["seed"] = compress(data, SEED, MAX_PIXELS).data
    for name, options in VARIANTS.items():
        photo.cpu[name] = _best_cpu(_compressing(data, options))
        output = compress(data, options, MAX_PIXELS)
        photo.outputs[name], photo.formats[name] = output.data, output.format
        photo.cpu[f"{name}, final encode"] = _final_encode_cpu(photo.path, output)


def _final_encode_cpu(path: Path, output: Compressed) -> float:
    """CPU of encoding the whole photo once in the chosen format and quality, without the
    decode and the search: the floor under what `compress` can cost."""
    with Image.open(path) as image:
        rgb = image.convert("RGB")
    quality = output.quality if output.quality is not None else 100
    return _best_cpu(lambda: encode_pixels(rgb.copy(), output.format, quality))


def _compressing(data: bytes, options: JobOptions) -> Callable[[], object]:
    return lambda: compress(data, options, MAX_PIXELS)


def _best_cpu(work: Callable[[], object], rounds: int = 2) -> float:
    best = math.inf
    for _ in range(rounds):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def pillow_jpeg(image: Image.Image, quality: int) -> bytes:
    """What the service writes for format=jpeg at a numeric quality (the photos are RGB)."""
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue()


# Judging with SSIMULACRA2


def _judge(shots: list[Photo]) -> None:
    with _pool() as pool:
        _score_round(pool, shots, SWEEP, with_outputs=True)
        unbracketed = [s for s in shots if any(_pillow_at(s, v) is None for v in VARIANTS)]
        # Rare: a score beyond what the first qualities reached; a wider sweep brackets it.
        if unbracketed:
            _score_round(pool, unbracketed, WIDER, with_outputs=False)


def _pool() -> multiprocessing.pool.Pool:
    return multiprocessing.get_context("spawn").Pool(PROCESSES)


def _score_round(
    pool: multiprocessing.pool.Pool,
    shots: list[Photo],
    qualities: Sequence[int],
    with_outputs: bool,
) -> None:
    tasks: list[tuple[int, str | int, str, bytes]] = []
    for n, shot in enumerate(shots):
        with Image.open(shot.path) as image:
            rgb = image.convert("RGB")
        tasks += [(n, q, str(shot.path), pillow_jpeg(rgb, q)) for q in qualities]
        if with_outputs:
            tasks += [(n, name, str(shot.path), data) for name, data in shot.outputs.items()]
    for n, key, size, score in pool.imap_unordered(_score_task, tasks):
        if isinstance(key, int):
            shots[n].pillow[key] = (size, score)
        else:
            shots[n].scores[key] = score


def _score_task(task: tuple[int, str | int, str, bytes]) -> tuple[int, str | int, int, float]:
    n, key, reference, candidate = task
    return n, key, len(candidate), ssimulacra2(Path(reference).read_bytes(), candidate)


def ssimulacra2(reference: bytes, candidate: bytes) -> float:
    """SSIMULACRA2 of `candidate` against `reference` (both encoded; decoded by Pillow)."""
    return float(compute_ssimulacra2(io.BytesIO(reference), io.BytesIO(candidate)))


def _pillow_at(photo: Photo, variant: str) -> float | None:
    """Pillow JPEG's bytes at exactly the score our `variant` reached, or None outside."""
    return bytes_at(list(photo.pillow.values()), photo.scores[variant])


def bytes_at(points: list[tuple[int, float]], score: float) -> float | None:
    """Interpolate (bytes, score) points, log bytes linear in the score, between the two that
    bracket `score`; None when no pair does."""
    ordered = sorted(points)  # by bytes: the score rises with them, but not always strictly
    for (small, low), (large, high) in zip(ordered, ordered[1:], strict=False):
        if low <= score <= high and high > low:
            share = (score - low) / (high - low)
            return math.exp(math.log(small) + share * (math.log(large) - math.log(small)))
    return None


# The report


def _report(shots: list[Photo], result: GoalResult) -> None:
    seed = [s.scores["seed"] for s in shots]
    result.add(f"seed (Pillow JPEG q50): SSIMULACRA2, {spread(seed)}", median(seed), "")
    result.add("quality=auto: its target SSIMULACRA2", DEFAULT_TARGET, "")
    for variant, goal in (("auto", BYTES_GOAL_AUTO), ("jpeg-only", BYTES_GOAL_JPEG)):
        _report_variant(shots, variant, goal, result)
    for fmt, count in Counter(s.formats["auto"] for s in shots).most_common():
        result.add(f"format=auto chose {fmt}", count, "photos")


def _report_variant(shots: list[Photo], variant: str, goal: float, result: GoalResult) -> None:
    scores = [s.scores[variant] for s in shots]
    result.add(f"{variant}: SSIMULACRA2 reached, {spread(scores)}", median(scores), "")
    ratios = [len(s.outputs[variant]) / at for s in shots if (at := _pillow_at(s, variant))]
    if len(ratios) < len(shots):  # never seen: the wider sweep reaches 15..97
        result.add(
            f"{variant}: photos beyond Pillow's range, left out", len(shots) - len(ratios), ""
        )
    cpu = [s.cpu[variant] / s.cpu["seed"] for s in shots]
    floor = [s.cpu[f"{variant}, final encode"] / s.cpu["seed"] for s in shots]
    result.add(
        f"{variant}: bytes ÷ Pillow JPEG at equal score, {spread(ratios)}", median(ratios), "x"
    )
    result.add(f"{variant}: CPU ÷ seed's CPU per photo, {spread(cpu)}", median(cpu), "x")
    result.add(
        f"{variant}: of which the final encode alone (no decode, no search), {spread(floor)}",
        median(floor),
        "x",
    )
    bytes_basis = f"median of {len(ratios)} photos; {spread(ratios)}"
    cpu_basis = f"median of {len(cpu)} photos; {spread(cpu)}"
    result.checks += [
        Check(f"{variant}: bytes ÷ Pillow JPEG", median(ratios), "x", goal, False, bytes_basis),
        Check(f"{variant}: CPU ÷ Pillow JPEG", median(cpu), "x", CPU_GOAL, False, cpu_basis),
    ]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def spread(values: Sequence[float]) -> str:
    if len(values) < 2:
        return "n/a"
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return (
        f"median {median(values):.3g} (p10 {deciles[0]:.3g}, p90 {deciles[-1]:.3g}, "
        f"min {min(values):.3g}, max {max(values):.3g})"
    )


# Calibration of the run-time metric (actors.autotune.CALIBRATION)

CALIBRATION_QUALITIES = tuple(range(20, 100, 10))
CALIBRATION_FORMATS = ("jpeg", "webp", "avif")
FITTED_RANGE = (40.0, 90.0)  # scores outside are far from any target anyone would set


@dataclass(frozen=True)
class Point:
    photo: str
    format: str
    quality: int
    fast: float  # the fast score of the encoded sample
    real: float  # SSIMULACRA2 of the whole encoded image


def calibrate(quick: bool = False) -> list[Point]:
    """Score every calibration photo in every format at every quality, both ways."""
    paths = [photos.ASSETS / name for name in photos.SOURCES]
    paths += photos.ensure(photos.two_mp_set(3 if quick else 6))
    tasks = [(path, *row) for path in paths for row in _fast_scores(path)]
    with _pool() as pool:
        return list(pool.imap_unordered(_real_score, tasks))


def _fast_scores(path: Path) -> list[tuple[str, int, float, bytes]]:
    """(format, quality, fast score, whole image encoded) for every pair."""
    from actors import autotune, imaging  # the run-time side, exactly as compress() uses it
    from actors.perceptual import Reference

    with Image.open(path) as image:
        rgb = image.convert("RGB")
    rows = []
    for fmt in CALIBRATION_FORMATS:
        pixels = autotune.sample_of(rgb, autotune.CALIBRATION[fmt].sampler)
        reference = Reference(autotune.visible(pixels))
        for quality in CALIBRATION_QUALITIES:
            small = imaging.encode_pixels(pixels.copy(), fmt, quality)
            fast = reference.score(autotune.visible(autotune.decoded(small)))
            whole = imaging.encode_pixels(rgb.copy(), fmt, quality)
            rows.append((fmt, quality, fast, whole))
    return rows


def _real_score(task: tuple[Path, str, int, float, bytes]) -> Point:
    path, fmt, quality, fast, encoded = task
    with Image.open(path) as image:  # the reference as PNG: the port decodes it like the output
        reference = io.BytesIO()
        image.convert("RGB").save(reference, "PNG", compress_level=1)
    real = ssimulacra2(reference.getvalue(), encoded)
    return Point(path.name, fmt, quality, fast, real)


def fitted(points: list[Point], fmt: str) -> str:
    """The `Calibration(...)` line for `fmt`, with how well it fits."""
    mine = [p for p in points if p.format == fmt and FITTED_RANGE[0] <= p.real <= FITTED_RANGE[1]]
    fast, real = [p.fast for p in mine], [p.real for p in mine]
    slope, offset = statistics.linear_regression(fast, real)
    errors = [r - (slope * f + offset) for f, r in zip(fast, real, strict=True)]
    start, step = _typical_start_and_step([p for p in points if p.format == fmt])
    from actors.autotune import CALIBRATION

    sampler = CALIBRATION[fmt].sampler
    return (
        f'    "{fmt}": Calibration(slope={slope:.3f}, offset={offset:.2f}, start={start}, '
        f'step={step:.2f}, sampler="{sampler}"),\n'
        f"    # residual sd {statistics.pstdev(errors):.2f}, max {max(map(abs, errors)):.2f} "
        f"over {len(mine)} points"
    )


def _typical_start_and_step(points: list[Point]) -> tuple[int, float]:
    """Median over photos of the quality meeting the default target, and of the slope there."""
    starts, steps = [], []
    for photo in sorted({p.photo for p in points}):
        curve = sorted((p.quality, p.real) for p in points if p.photo == photo)
        for (q0, s0), (q1, s1) in zip(curve, curve[1:], strict=False):
            if s0 < DEFAULT_TARGET <= s1:
                starts.append(q0 + (DEFAULT_TARGET - s0) / (s1 - s0) * (q1 - q0))
                steps.append((s1 - s0) / (q1 - q0))
    return round(median(starts)), median(steps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.bench.bytes", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer photos")
    parser.add_argument("--calibrate", action="store_true", help="fit autotune.CALIBRATION")
    args = parser.parse_args(argv)
    if args.calibrate:
        points = calibrate(args.quick)
        print("CALIBRATION: dict[str, Calibration] = {")
        print("\n".join(fitted(points, fmt) for fmt in CALIBRATION_FORMATS))
        print("}")
        return 0
    from ops.bench import report

    result = run(Settings(quick=args.quick))
    print("\n" + report.table([result]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
