"""Test photos of 2-24 MP, made by mosaicking the real photographs in `tests/assets/`.

The repository holds only small real photos (0.14-2 MP, public domain or CC0, see
tests/assets/README.md). A benchmark of 2-8 MP photos needs bigger ones, and drawing them would
not be photographic content. So each test photo is a grid of tiles, each tile a window of a real
photo scaled DOWN (or kept 1:1) to the tile's size, never up: every pixel is photographic. A
seeded random generator picks the sources, windows and flips, so a photo is the same on every run
of one Pillow version. They are saved as JPEG q90 (as cameras and editors export) and cached
under var/bench/photos/, made on the first run and reused after.
"""

from __future__ import annotations

import math
import os
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image

from ops.bench import BENCH_DIR, ROOT

ASSETS = ROOT / "tests" / "assets"
SOURCES = (
    "retina.jpg",
    "hubble_deep_field.jpg",
    "rocket.jpg",
    "astronaut.jpg",
    "coffee.jpg",
    "chelsea.png",
)
# Bump when the recipe changes, so stale cached photos are never mixed with new ones.
RECIPE = "v1"
CACHE = BENCH_DIR / "photos" / RECIPE
JPEG_QUALITY = 90
# The largest tile of a photo, drawn per photo: small tiles let every source take part (the
# smallest is 451x300), large ones give longer smooth areas, as real high-resolution photos have.
TILE_LIMITS = ((450, 300), (520, 400), (600, 400), (900, 800))
# Sizes of the 2-8 MP set (megapixels: 2.1, 3.1, 4.1, 5.0, 6.0, 7.1, 8.0), cycled.
MIXED_SIZES = (
    (1920, 1080),
    (2048, 1536),
    (2560, 1600),
    (2736, 1824),
    (3000, 2000),
    (3264, 2176),
    (3464, 2309),
)
TWO_MP = (1920, 1080)
PRODUCT = (1000, 1000)  # a typical e-commerce product photo
THUMBNAIL = (400, 400)  # a listing's small product photo (issue 9's catalog-scale jobs)
TWENTY_FOUR_MP = (6000, 4000)

DESCRIPTION = (
    "test photos are mosaics of the real photographs in tests/assets/ (scikit-image's public "
    "domain/CC0 set): each tile a window of one photo scaled down or 1:1 (never up) to the tile, "
    f"sources, windows and flips drawn by a seeded generator; saved as JPEG q{JPEG_QUALITY} "
    f"(4:2:0, baseline) and cached in {CACHE.relative_to(ROOT)}/"
)


@dataclass(frozen=True)
class PhotoSpec:
    name: str
    width: int
    height: int

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    @property
    def path(self) -> Path:
        return CACHE / f"{self.name}-{self.width}x{self.height}.jpg"


def mixed_set(count: int) -> list[PhotoSpec]:
    """`count` distinct photos of 2-8 MP, sizes cycling through MIXED_SIZES."""
    return [PhotoSpec(f"mixed-{n:03d}", *MIXED_SIZES[n % len(MIXED_SIZES)]) for n in range(count)]


def two_mp_set(count: int) -> list[PhotoSpec]:
    return [PhotoSpec(f"twomp-{n:03d}", *TWO_MP) for n in range(count)]


def product_set(count: int) -> list[PhotoSpec]:
    return [PhotoSpec(f"product-{n:03d}", *PRODUCT) for n in range(count)]


def thumbnail_set(count: int) -> list[PhotoSpec]:
    return [PhotoSpec(f"thumb-{n:03d}", *THUMBNAIL) for n in range(count)]


def huge_set(count: int) -> list[PhotoSpec]:
    return [PhotoSpec(f"huge-{n:03d}", *TWENTY_FOUR_MP) for n in range(count)]


def ensure(specs: Sequence[PhotoSpec]) -> list[Path]:
    """The photos' files, made now if they are not cached yet."""
    CACHE.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        if not spec.path.exists():
            _write(spec)
    return [spec.path for spec in specs]


def load(specs: Sequence[PhotoSpec]) -> list[bytes]:
    return [path.read_bytes() for path in ensure(specs)]


def _write(spec: PhotoSpec) -> None:
    mosaic = make_mosaic(spec)
    partial = spec.path.with_suffix(f".{os.getpid()}.part")
    mosaic.save(partial, "JPEG", quality=JPEG_QUALITY)
    partial.replace(spec.path)  # atomic: an interrupted run leaves no truncated photo behind


def make_mosaic(spec: PhotoSpec) -> Image.Image:
    # The seed depends on the name only: the same photo whatever else the run asks for.
    rng = random.Random(zlib.crc32(spec.name.encode()))
    limit_w, limit_h = rng.choice(TILE_LIMITS)
    cols, rows = math.ceil(spec.width / limit_w), math.ceil(spec.height / limit_h)
    xs = _edges(spec.width, cols)
    ys = _edges(spec.height, rows)
    mosaic = Image.new("RGB", (spec.width, spec.height))
    for top, bottom in zip(ys, ys[1:], strict=False):
        for left, right in zip(xs, xs[1:], strict=False):
            mosaic.paste(_tile(rng, right - left, bottom - top), (left, top))
    return mosaic


def _edges(length: int, parts: int) -> list[int]:
    return [round(length * n / parts) for n in range(parts + 1)]


def _tile(rng: random.Random, width: int, height: int) -> Image.Image:
    """A window of a real photo, at least the tile's size, scaled down to exactly that size."""
    fitting = [s for s in _sources() if s.width >= width and s.height >= height]
    source = rng.choice(fitting)
    scale = rng.uniform(1.0, min(source.width / width, source.height / height))
    win_w, win_h = (
        min(source.width, round(width * scale)),
        min(source.height, round(height * scale)),
    )
    left, top = rng.randint(0, source.width - win_w), rng.randint(0, source.height - win_h)
    tile = source.resize(
        (width, height), Image.Resampling.LANCZOS, (left, top, left + win_w, top + win_h)
    )
    return tile.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else tile


@cache
def _sources() -> tuple[Image.Image, ...]:
    return tuple(Image.open(ASSETS / name).convert("RGB") for name in SOURCES)
