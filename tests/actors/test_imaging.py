"""actors.imaging: real photographs in, compressed bytes and their facts out."""

from __future__ import annotations

import io
import warnings

import pytest
from PIL import Image, ImageChops, ImageStat
from PIL.PngImagePlugin import PngInfo

from actors.errors import PermanentFailure
from actors.formats import strip_metadata
from actors.imaging import FORMAT_EXTENSIONS, Compressed, JobOptions, compress
from tests.images import (
    RED,
    XMP,
    animated_gif,
    encode,
    jpeg_with_orientation,
    make_png_palette_transparent,
    make_png_rgba,
    open_image,
    photo_as,
    photo_bytes,
    png_16bit_grey,
    png_claiming_size,
)

MAX_PIXELS = 50_000_000
PILLOW_NAMES = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "avif": "AVIF"}


def run(data: bytes, max_pixels: int = MAX_PIXELS, **options: object) -> Compressed:
    return compress(data, JobOptions(**options), max_pixels)  # type: ignore[arg-type]


def decoded(result: Compressed) -> Image.Image:
    """The output decoded, after checking it is what `result` says it is."""
    image = open_image(result.data)
    assert image.format == PILLOW_NAMES[result.format]
    assert image.size == (result.width, result.height)
    return image


def rgba_at(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    return tuple(image.convert("RGBA").getpixel(xy))  # type: ignore[arg-type]


def near(colour: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=False))


def failure_of(data: bytes, max_pixels: int = MAX_PIXELS) -> PermanentFailure:
    with pytest.raises(PermanentFailure) as caught:
        run(data, max_pixels)
    return caught.value


# Formats


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif"])
def test_each_output_format_from_a_real_photo(fmt: str) -> None:
    # Given a real photograph as a JPEG
    data = photo_bytes("astronaut.jpg")
    # When it is compressed to each format
    result = run(data, format=fmt, quality=60)
    # Then the output decodes as that format, at the photo's size
    assert result.format == fmt
    assert decoded(result).size == (512, 512)


@pytest.mark.parametrize(
    ("pillow_format", "expected"),
    [
        ("JPEG", "jpeg"),
        ("PNG", "png"),
        ("WEBP", "webp"),
        ("AVIF", "avif"),
    ],
)
def test_original_keeps_web_formats(pillow_format: str, expected: str) -> None:
    # Given a photograph stored in a web format (the others: tests/actors/test_legacy_inputs.py)
    data = photo_as("coffee.jpg", pillow_format)
    # When "original" is asked for
    result = run(data, format="original")
    # Then JPEG, PNG, WebP and AVIF stay themselves
    assert result.format == expected
    assert decoded(result).size == (600, 400)


def test_extensions_cover_every_output_format() -> None:
    assert FORMAT_EXTENSIONS == {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}


def test_options_outside_their_range_are_refused() -> None:
    with pytest.raises(ValueError):
        JobOptions(format="gif")
    with pytest.raises(ValueError):
        JobOptions(quality=0)
    with pytest.raises(ValueError):
        JobOptions(max_width=0)


# Resizing


def test_a_box_fits_both_dimensions_keeping_the_aspect_ratio() -> None:
    # Given a 1000×872 photograph
    data = photo_bytes("hubble_deep_field.jpg")
    # When it must fit 400×300
    result = run(data, format="jpeg", max_width=400, max_height=300)
    # Then the height limits it, and the width follows the ratio
    assert (result.width, result.height) == (344, 300)
    assert decoded(result).size == (344, 300)


def test_a_width_alone_limits_the_width() -> None:
    result = run(photo_bytes("hubble_deep_field.jpg"), format="webp", max_width=500)
    assert (result.width, result.height) == (500, 436)


def test_a_large_reduction_of_a_jpeg_still_gives_the_exact_size() -> None:
    # Given a 1411×1411 JPEG, reduced more than 4× (decoded at a reduced scale first)
    result = run(photo_bytes("retina.jpg"), format="jpeg", max_width=300, max_height=301)
    # Then the output is exactly the size that fits
    assert decoded(result).size == (300, 300)


def banner(width: int, height: int = 8) -> bytes:
    """A long strip of a real photo, as PNG: far under the pixel limit, longer than some
    formats can store."""
    strip = open_image(photo_bytes("astronaut.jpg")).convert("RGB").resize((width, height))
    return encode(strip, "PNG")


@pytest.mark.parametrize(("fmt", "width"), [("webp", 16_384), ("jpeg", 65_501)])
def test_an_image_longer_than_the_format_stores_fails_for_good(fmt: str, width: int) -> None:
    # Given a banner one pixel longer than the format's limit
    data = banner(width)

    # When it is asked for in that format, Then it fails at once with a reason (not an
    # encoder's error, which the pipeline would retry as unexpected)
    with pytest.raises(PermanentFailure) as caught:
        run(data, format=fmt)
    assert caught.value.reason == "too_many_pixels"
    assert f"{fmt.upper()} {width - 1}" in caught.value.message


def test_auto_chooses_among_the_formats_that_can_store_the_image() -> None:
    # Given a banner too long for WebP, and a client accepting WebP and JPEG only
    data = banner(16_384)

    # When the format is left to the service
    result = run(data, format="auto", quality="auto", accept=("webp", "jpeg"))

    # Then it is JPEG, whole
    assert (result.format, result.width, result.height) == ("jpeg", 16_384, 8)
    decoded(result)


def test_images_are_never_upscaled() -> None:
    # Given a 640×427 photograph and a box larger than it
    result = run(photo_bytes("rocket.jpg"), format="png", max_width=5000, max_height=5000)
    # Then it keeps its size
    assert decoded(result).size == (640, 427)


# Orientation


@pytest.mark.parametrize(
    ("orientation", "red_corner"),
    [(6, "top right"), (8, "bottom left")],
)
def test_exif_orientation_is_applied(orientation: int, red_corner: str) -> None:
    # Given a 640×427 photo, stored top-left corner red, that EXIF says to show rotated
    data = jpeg_with_orientation(orientation)
    # When it is compressed
    result = run(data, format="jpeg", quality=80)
    # Then its sides are swapped, the red corner has moved, and no orientation tag is left
    image = decoded(result)
    assert image.size == (427, 640)
    corners = {"top left": (5, 5), "top right": (421, 5), "bottom left": (5, 634)}
    assert near(rgba_at(image, corners[red_corner]), (*RED, 255))
    assert not near(rgba_at(image, corners["top left"]), (*RED, 255))
    assert 0x0112 not in image.getexif()


def test_orientation_is_applied_before_fitting_the_box() -> None:
    # Given a 640×427 photo shown rotated (so 427×640), and a box 300 wide
    result = run(jpeg_with_orientation(6), format="jpeg", max_width=300)
    # Then the displayed width is the one limited
    assert (result.width, result.height) == (300, 450)


# Metadata


def test_jpeg_loses_exif_and_xmp_but_keeps_its_icc_profile() -> None:
    # Given a real JPEG carrying EXIF, XMP and an ICC profile
    data = photo_bytes("hubble_deep_field.jpg")
    source = open_image(data)
    assert {"exif", "xmp", "icc_profile"} <= source.info.keys()
    # When it is compressed
    image = decoded(run(data, format="jpeg", quality=50))
    # Then only the ICC profile is left
    assert "exif" not in image.info and "xmp" not in image.info
    assert image.info["icc_profile"] == source.info["icc_profile"]


def test_png_loses_xmp_but_keeps_its_icc_profile() -> None:
    # Given a real PNG carrying XMP and an ICC profile
    data = photo_bytes("chelsea.png")
    source = open_image(data)
    assert {"xmp", "icc_profile"} <= source.info.keys()
    # When it is compressed to PNG
    image = decoded(run(data, format="original"))
    # Then only the ICC profile is left
    assert "xmp" not in image.info and "exif" not in image.info
    assert image.info["icc_profile"] == source.info["icc_profile"]


def test_webp_loses_exif_and_xmp_but_keeps_its_icc_profile() -> None:
    # Given a WebP carrying EXIF, XMP and an ICC profile
    icc = open_image(photo_bytes("astronaut.jpg")).info["icc_profile"]
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    data = photo_as("astronaut.jpg", "WEBP", exif=exif.tobytes(), xmp=XMP, icc_profile=icc)
    # When it is compressed to WebP
    image = decoded(run(data, format="webp", quality=40))
    # Then only the ICC profile is left
    assert "exif" not in image.info and "xmp" not in image.info
    assert image.info["icc_profile"] == icc


def test_jpeg_output_is_progressive() -> None:
    result = run(photo_bytes("retina.jpg"), format="jpeg")
    assert decoded(result).info.get("progressive")
    assert b"\xff\xc2" in result.data  # SOF2: progressive DCT


# Modes


def test_transparent_png_to_jpeg_is_flattened_on_white() -> None:
    # Given a PNG, left half opaque red, right half transparent black
    data = make_png_rgba(64, 32)
    # When it becomes a JPEG
    image = decoded(run(data, format="jpeg", quality=90))
    # Then the transparent half is white, not black, and the red half stays red
    assert image.mode == "RGB"
    assert near(rgba_at(image, (56, 16)), (255, 255, 255, 255), tolerance=8)
    assert near(rgba_at(image, (8, 16)), (*RED, 255))


def test_palette_png_with_transparency_to_webp_keeps_alpha() -> None:
    # Given a palette PNG, left half red, right half the transparent entry
    data = make_png_palette_transparent(64, 32)
    # When it becomes a WebP
    image = decoded(run(data, format="webp", quality=80))
    # Then it still has an alpha channel, clear on the right and opaque on the left
    assert image.mode == "RGBA"
    assert rgba_at(image, (56, 16))[3] == 0
    assert rgba_at(image, (8, 16))[3] == 255


def test_transparent_png_to_avif_keeps_alpha() -> None:
    image = decoded(run(make_png_rgba(64, 32), format="avif", quality=80))
    assert image.mode == "RGBA"
    assert rgba_at(image, (56, 16))[3] == 0


def test_an_alpha_channel_that_is_opaque_everywhere_is_dropped() -> None:
    data = photo_as("coffee.jpg", "PNG", mode="RGBA")
    assert decoded(run(data, format="webp")).mode == "RGB"


def test_cmyk_jpeg_becomes_rgb_with_its_colours() -> None:
    # Given a photograph saved as a CMYK JPEG
    data = photo_as("astronaut.jpg", "JPEG", mode="CMYK", quality=95)
    # When it is compressed to JPEG
    image = decoded(run(data, format="jpeg", quality=90))
    # Then the output is RGB and looks like the photograph
    assert image.mode == "RGB"
    assert mean_difference(image, open_image(photo_bytes("astronaut.jpg"))) < 8


def test_cmyk_jpeg_with_a_profile_that_does_not_fit_drops_the_profile() -> None:
    # Given a CMYK JPEG carrying an RGB profile (so it cannot be colour-managed)
    icc = open_image(photo_bytes("astronaut.jpg")).info["icc_profile"]
    data = photo_as("astronaut.jpg", "JPEG", mode="CMYK", icc_profile=icc)
    # When it is compressed, then it is converted plainly and the wrong profile is not kept
    image = decoded(run(data, format="jpeg"))
    assert image.mode == "RGB" and "icc_profile" not in image.info


def test_16_bit_png_becomes_an_8_bit_jpeg_of_the_same_brightness() -> None:
    # Given a 16-bit greyscale PNG (values up to 65535)
    data = png_16bit_grey("astronaut.jpg")
    # When it becomes a JPEG
    image = decoded(run(data, format="jpeg", quality=90))
    # Then it is scaled to 8 bits, not clipped to white
    grey = open_image(photo_bytes("astronaut.jpg")).convert("L")
    assert image.mode == "L"
    assert abs(ImageStat.Stat(image).mean[0] - ImageStat.Stat(grey).mean[0]) < 4


def test_animated_gif_gives_its_first_frame_as_png() -> None:
    # Given an animated GIF whose first frame is red and second blue
    data = animated_gif()
    # When "original" is asked for
    result = run(data)
    # Then a still PNG of the first frame comes out
    image = decoded(result)
    assert result.format == "png" and image.size == (32, 24)
    assert near(rgba_at(image, (16, 12)), (*RED, 255), tolerance=0)
    assert getattr(image, "n_frames", 1) == 1


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


# Never larger


def metadata_rich_jpeg() -> bytes:
    """A small, high-quality JPEG with EXIF, XMP, a comment and an ICC profile."""
    icc = open_image(photo_bytes("astronaut.jpg")).info["icc_profile"]
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    return photo_as(
        "astronaut.jpg", "JPEG", size=(128, 128), quality=95, optimize=True,
        exif=exif.tobytes(), xmp=XMP, comment=b"shot on a Tuesday", icc_profile=icc,
    )  # fmt: skip


def test_a_jpeg_that_would_grow_keeps_its_own_bytes_minus_metadata() -> None:
    # Given an optimised JPEG at quality 95 with metadata
    data = metadata_rich_jpeg()
    # When it is re-encoded at quality 100, which would make it larger
    result = run(data, format="original", quality=100)
    # Then it is no larger, its pixels are the original's, and only the ICC profile is left
    image = decoded(result)
    assert result.format == "jpeg" and len(result.data) <= len(data)
    assert not {"exif", "xmp", "comment"} & image.info.keys()
    assert image.info["icc_profile"] == open_image(data).info["icc_profile"]
    assert mean_difference(image, open_image(data)) == 0


def test_a_resize_uses_the_re_encoded_image_even_if_larger() -> None:
    # Given the same JPEG, and a resize of a few pixels at quality 100
    data = metadata_rich_jpeg()
    result = run(data, format="jpeg", quality=100, max_width=120)
    # Then the resized image is returned
    assert (result.width, result.height) == (120, 120)
    assert decoded(result).size == (120, 120)


def test_an_orientation_change_uses_the_re_encoded_image_even_if_larger() -> None:
    result = run(jpeg_with_orientation(6), format="jpeg", quality=100)
    assert decoded(result).size == (427, 640)


def test_another_format_is_returned_even_if_larger() -> None:
    data = photo_bytes("rocket.jpg")
    result = run(data, format="png")
    assert result.format == "png" and len(result.data) > len(data)


def test_stripping_a_jpeg_keeps_icc_and_pixels() -> None:
    data = metadata_rich_jpeg()
    stripped = strip_metadata(data, "jpeg")
    image = open_image(stripped)
    assert b"Exif" not in stripped and b"xmpmeta" not in stripped and b"Tuesday" not in stripped
    assert image.info["icc_profile"] == open_image(data).info["icc_profile"]
    assert mean_difference(image, open_image(data)) == 0


def test_stripping_a_progressive_mpo_keeps_the_first_picture_only() -> None:
    # Given a progressive JPEG (tables between its scans) with a second picture appended (MPO)
    with Image.open(io.BytesIO(metadata_rich_jpeg())) as first:
        second = first.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        data = encode(first, "MPO", save_all=True, append_images=[second], progressive=True)
    # When its metadata is dropped
    stripped = strip_metadata(data, "jpeg")
    # Then one plain JPEG is left, with the first picture's pixels
    image = open_image(stripped)
    assert image.format == "JPEG" and len(stripped) < len(data) / 2 + 1000
    assert mean_difference(image, open_image(data)) == 0


def test_stripping_a_png_keeps_icc_and_pixels() -> None:
    # Given a real PNG with an ICC profile and XMP, plus a text chunk and EXIF
    with Image.open(io.BytesIO(photo_bytes("chelsea.png"))) as source:
        exif = Image.Exif()
        exif[0x010F] = "Camera maker"
        params = {"icc_profile": source.info["icc_profile"], "exif": exif.tobytes()}
        info = PngInfo()
        info.add_text("Comment", "shot on a Tuesday")
        info.add_itxt("XML:com.adobe.xmp", source.info["xmp"])
        data = encode(source, "PNG", pnginfo=info, **params)
    # When its metadata chunks are dropped
    stripped = strip_metadata(data, "png")
    # Then the text, XMP and EXIF are gone; the ICC profile and the pixels are not
    image = open_image(stripped)
    for chunk in (b"tEXt", b"iTXt", b"eXIf"):
        assert chunk not in stripped
    assert image.info["icc_profile"] == params["icc_profile"]
    assert mean_difference(image, open_image(data)) == 0


# Refusals


@pytest.mark.parametrize(
    "data",
    [
        b"<!doctype html><html><body>Not found</body></html>",
        b"",
        photo_bytes("retina.jpg")[: len(photo_bytes("retina.jpg")) // 2],
        photo_bytes("chelsea.png")[:-5000],
    ],
    ids=["html", "empty", "truncated jpeg", "truncated png"],
)
def test_what_is_not_a_whole_image_is_not_an_image(data: bytes) -> None:
    assert failure_of(data).reason == "not_an_image"


def test_a_header_declaring_too_many_pixels_is_refused_before_decoding() -> None:
    # Given a tiny PNG whose header says 20000×20000
    data = png_claiming_size(20000, 20000)
    # When it is compressed with a 50 MP limit
    failure = failure_of(data, max_pixels=50_000_000)
    # Then it is refused for its pixels, with the numbers in the message
    assert failure.reason == "too_many_pixels"
    assert failure.message == "image is 20000×20000 = 400 MP, over the 50 MP limit"


def test_the_pixel_limit_is_ours_and_pillow_does_not_warn() -> None:
    # Given a header of 100 MP: over Pillow's own warning threshold (89 MP)
    data = png_claiming_size(10000, 10000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Then our limit decides, and no DecompressionBombWarning escapes
        assert failure_of(data, max_pixels=50_000_000).reason == "too_many_pixels"


def test_a_real_photo_over_the_limit_is_refused() -> None:
    failure = failure_of(photo_bytes("retina.jpg"), max_pixels=1_000_000)
    assert failure.reason == "too_many_pixels"
    assert failure.message == "image is 1411×1411 = 2 MP, over the 1 MP limit"


# quality=auto and format=auto (the search itself: tests/actors/test_autotune.py)


def test_old_job_options_without_the_auto_fields_still_load() -> None:
    # Given the options a job stored before auto existed, as JSON gives them back
    options = JobOptions.from_json(
        {"format": "webp", "quality": 70, "max_width": None, "max_height": None}
    )
    # Then they mean what they meant, and the new fields take their defaults
    assert (options.format, options.quality, options.accept) == (
        "webp",
        70,
        ("avif", "webp", "jpeg"),
    )


def test_auto_options_round_trip_through_json() -> None:
    # Given auto options as the API stores them (a list where the dataclass keeps a tuple)
    stored = {"format": "auto", "quality": "auto", "accept": ["webp", "jpeg"], "target": 70.0}
    # When they are read back
    options = JobOptions.from_json(stored)
    # Then they are the same options
    assert options.accept == ("webp", "jpeg") and options.target == 70.0


@pytest.mark.parametrize(
    "fields",
    [
        {"format": "auto", "quality": 50},  # formats compare at equal looks only
        {"quality": "best"},
        {"format": "auto", "quality": "auto", "accept": ["gif"]},
        {"format": "auto", "quality": "auto", "accept": []},
        {"quality": "auto", "target": 100.0},
    ],
)
def test_auto_options_that_mean_nothing_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        JobOptions(**fields)  # type: ignore[arg-type]


def test_quality_auto_keeps_the_icc_profile_and_reports_its_quality() -> None:
    # Given a real JPEG with an Adobe RGB profile
    data = photo_bytes("rocket.jpg")
    # When it is compressed with quality=auto
    result = run(data, format="jpeg", quality="auto")
    # Then the profile is kept, the output is progressive, and the quality chosen is reported
    image = decoded(result)
    assert image.info["icc_profile"] == open_image(data).info["icc_profile"]
    assert image.info.get("progressive") and result.quality is not None


def test_quality_auto_never_grows_an_unchanged_image_in_its_own_format() -> None:
    # Given a small JPEG at quality 95 with metadata, whose auto target needs far less
    data = metadata_rich_jpeg()
    # When it is compressed with quality=auto and a target it would take more bytes to meet
    result = run(data, format="original", quality="auto", target=99.0)
    # Then it is never larger than the download
    assert result.format == "jpeg" and len(result.data) <= len(data)


def test_format_auto_on_a_transparent_image_keeps_or_flattens_its_alpha() -> None:
    # Given a transparent PNG and every format accepted
    data = make_png_rgba(640, 480)
    # When format=auto chooses
    result = run(data, format="auto", quality="auto", accept=("avif", "webp", "jpeg", "png"))
    # Then the left half is red, and the right half transparent or, as JPEG, white
    image = decoded(result)
    assert near(rgba_at(image, (100, 240)), (*RED, 255))
    right = rgba_at(image, (540, 240))
    assert right[3] == 0 if result.format != "jpeg" else near(right, (255, 255, 255, 255))
