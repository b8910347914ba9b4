"""`compress`: decode, plan the format and quality, encode once, keep the original if smaller."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from actors.errors import PermanentFailure
from actors.formats import AUTO, LOSSY, MAX_SIDES, fits, output_format, strip_metadata
from actors.imaging.decoding import Source, decode
from actors.imaging.encoding import Compressed, encode
from actors.options import JobOptions
from storage.vocabulary import FailureReason


@dataclass(frozen=True)
class _Plan:
    format: str
    quality: int
    tuned: bool  # chosen by the perceptual search, with the encoders' tuned settings


def compress(data: bytes, options: JobOptions, max_pixels: int) -> Compressed:
    """Re-encode `data` as `options` ask; PermanentFailure when it is not a usable image."""
    source = decode(data, max_pixels, options.max_width, options.max_height)
    plan = _plan(source, options)
    encoded = encode(source.image, plan.format, plan.quality, source.icc_profile, plan.tuned)
    fmt = plan.format
    if fmt == source.format and not source.changed and len(encoded.data) >= len(data):
        return Compressed(strip_metadata(data, fmt), fmt, encoded.width, encoded.height)
    return encoded


def _plan(source: Source, options: JobOptions) -> _Plan:
    """The format and quality to encode at: as asked, or searched for on a sample."""
    formats = _formats_that_fit(source.image.size, options, source.format)
    if isinstance(options.quality, int):
        return _Plan(formats[0], options.quality, tuned=False)
    if not LOSSY.intersection(formats):  # PNG alone: nothing to search
        return _Plan(formats[0], 100, tuned=True)
    # Imported only now: the search needs NumPy, ~12 MiB of memory in every process that
    # loads it, and jobs with a numeric quality never do.
    from actors import autotune

    choice = autotune.choose(source.image, formats, options.target, encode_pixels)
    return _Plan(choice.format, choice.quality, tuned=True)


def _formats_that_fit(
    size: tuple[int, int], options: JobOptions, source_format: str | None
) -> tuple[str, ...]:
    """The formats the plan may choose from: those asked for that can store `size`."""
    if options.format == AUTO:
        asked = options.accept
    else:
        asked = (output_format(options.format, source_format),)
    formats = tuple(fmt for fmt in asked if fits(fmt, size))
    if not formats:  # a limit of the format: final at once, as retrying cannot change it
        width, height = size
        limits = ", ".join(f"{fmt.upper()} {MAX_SIDES[fmt]}" for fmt in asked)
        message = f"image is {width}×{height}, longer than the format allows ({limits} pixels)"
        raise PermanentFailure(FailureReason.TOO_MANY_PIXELS, message)
    return formats


def encode_pixels(image: Image.Image, fmt: str, quality: int) -> bytes:
    """Decoded pixels encoded as the auto path encodes them, without an ICC profile; `image`
    is closed (pass a copy to keep it). The quality search's encoder, and the calibration's."""
    return encode(image, fmt, quality, None, tuned=True).data
