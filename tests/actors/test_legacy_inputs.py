"""actors.imaging with `format=original` on legacy inputs (GIF, BMP, TIFF, PPM), which no output
format stores: the smaller of PNG and, for an opaque photograph, JPEG (issue 9)."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.actors.test_imaging import decoded, mean_difference, rgba_at, run
from tests.images import (
    open_image,
    palette_photo,
    photo_as,
    photo_with_hole,
    transparent_gif,
)

HOLE = (0, 0, 150, 100)  # a rectangle in the top-left corner of a 600×400 photo
IN_HOLE, OUTSIDE = (75, 50), (300, 300)


@pytest.mark.parametrize(
    "data",
    [
        photo_as("retina.jpg", "TIFF", compression="jpeg", quality=75),
        photo_as("coffee.jpg", "BMP"),
        photo_as("astronaut.jpg", "PPM"),
        photo_as("astronaut.jpg", "TIFF", mode="L", compression="jpeg", quality=75),
    ],
    ids=["jpeg-compressed tiff", "24-bit bmp", "ppm", "grey jpeg-compressed tiff"],
)
@pytest.mark.parametrize("quality", [50, "auto"])
def test_an_opaque_legacy_photo_becomes_a_smaller_jpeg(data: bytes, quality: object) -> None:
    # Given an opaque photograph in a legacy format (as PNG, the TIFFs grow 3-5 times)
    source = open_image(data)
    # When "original" is asked for
    result = run(data, format="original", quality=quality)
    # Then it is a JPEG of the same photograph, smaller than the download
    assert result.format == "jpeg" and len(result.data) < len(data)
    image = decoded(result)
    assert image.size == source.size and mean_difference(image, source) < 8


def test_transparency_keeps_a_legacy_photo_png_where_the_opaque_one_becomes_jpeg() -> None:
    # Given a photograph as an RGBA TIFF with a transparent rectangle, and the same one opaque
    holed = photo_with_hole("coffee.jpg", "TIFF", HOLE)
    opaque = photo_as("coffee.jpg", "TIFF")
    # When "original" is asked for
    result = run(holed, format="original")
    # Then the opaque one becomes JPEG, and the one with a hole PNG, its alpha and pixels kept
    assert run(opaque, format="original").format == "jpeg"
    image = decoded(result)
    assert result.format == "png" and image.mode == "RGBA"
    assert rgba_at(image, IN_HOLE)[3] == 0 and rgba_at(image, OUTSIDE)[3] == 255
    assert same_pixels(image, open_image(holed))


@pytest.mark.parametrize(
    ("fmt", "mode"),
    [("BMP", "P"), ("BMP", "RGB"), ("TIFF", "RGB")],
    ids=["palette bmp", "24-bit bmp", "tiff"],
)
def test_few_colours_keep_a_legacy_photo_png_where_full_colour_makes_it_jpeg(
    fmt: str, mode: str
) -> None:
    # Given a photograph dithered to 64 colours, with a palette or in 24 bits (as a JPEG at
    # quality 50 it would be a third of the PNG or less, but blurred), and the same in full colour
    few = palette_photo("coffee.jpg", fmt, mode)
    full = photo_as("coffee.jpg", fmt)
    # When "original" is asked for
    result = run(few, format="original")
    # Then the full-colour one becomes JPEG, and the 64-colour one a PNG of exactly its pixels
    assert run(full, format="original").format == "jpeg"
    assert result.format == "png" and len(result.data) <= len(few)
    assert same_pixels(decoded(result), open_image(few))


@pytest.mark.parametrize("transparent", [False, True], ids=["opaque", "transparent"])
def test_a_gif_stays_png_with_its_colours_and_transparency(transparent: bool) -> None:
    # Given a photograph as a GIF of 64 colours, or of 63 and a transparent rectangle
    data = (
        transparent_gif("coffee.jpg", HOLE) if transparent else palette_photo("coffee.jpg", "GIF")
    )
    # When "original" is asked for
    result = run(data, format="original")
    # Then it is a PNG of exactly its pixels, transparent where the GIF was
    image = decoded(result)
    assert result.format == "png" and same_pixels(image, open_image(data))
    assert rgba_at(image, IN_HOLE)[3] == (0 if transparent else 255)


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.convert("RGBA").tobytes() == b.convert("RGBA").tobytes()
