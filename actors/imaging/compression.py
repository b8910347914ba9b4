"""`compress`: decode, plan the formats and qualities, encode, keep the smallest output (or the
original bytes, when re-encoding an unchanged image in its own format would not shrink it)."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from actors.errors import PermanentFailure
from actors.formats import AUTO, LOSSY, MAX_SIDES, ORIGINAL, fits, legacy_outputs, strip_metadata
from actors.imaging.decoding import Source, decode
from actors.imaging.encoding import Compressed, encode
from actors.imaging.pixels import is_photograph
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
    encoded = _smallest(source, _plans(source, options))
    fmt = encoded.format
    if fmt == source.format and not source.changed and len(encoded.data) >= len(data):
        return Compressed(strip_metadata(data, fmt), fmt, encoded.width, encoded.height)
    return encoded


def _plans(source: Source, options: JobOptions) -> tuple[_Plan, ...]:
    """The encodes to try, as asked or searched for on a sample; the smallest output is kept.
    Several only for a numeric quality and several formats: a legacy input with `original`."""
    formats = _formats_that_fit(source, options)
    if isinstance(options.quality, int):
        return tuple(_Plan(fmt, options.quality, tuned=False) for fmt in formats)
    if not LOSSY.intersection(formats):  # PNG alone: nothing to search
        return (_Plan(formats[0], 100, tuned=True),)
    # Imported only now: the search needs NumPy, ~12 MiB of memory in every process that
    # loads it, and jobs with a numeric quality never do.
    from actors import autotune

    choice = autotune.choose(source.image, formats, options.target, encode_pixels)
    return (_Plan(choice.format, choice.quality, tuned=True),)


def _smallest(source: Source, plans: tuple[_Plan, ...]) -> Compressed:
    """Each plan encoded, the smallest output kept. `encode` closes the image it is given, so
    all plans but the last encode a copy: one more copy of the pixels, made only for a legacy
    photograph at a numeric quality (a 12 MP TIFF: peak RSS 123 MiB, 77 when it became PNG)."""
    *others, last = plans
    outputs = [_encoded(source.image.copy(), source, plan) for plan in others]
    outputs.append(_encoded(source.image, source, last))
    return min(outputs, key=lambda output: len(output.data))  # the first of equals: PNG


def _encoded(image: Image.Image, source: Source, plan: _Plan) -> Compressed:
    return encode(image, plan.format, plan.quality, source.icc_profile, plan.tuned)


def _formats_that_fit(source: Source, options: JobOptions) -> tuple[str, ...]:
    """The formats the plan may choose from: those asked for that can store the image."""
    asked = _asked(source, options)
    formats = tuple(fmt for fmt in asked if fits(fmt, source.image.size))
    if not formats:  # a limit of the format: final at once, as retrying cannot change it
        width, height = source.image.size
        limits = ", ".join(f"{fmt.upper()} {MAX_SIDES[fmt]}" for fmt in asked)
        message = f"image is {width}×{height}, longer than the format allows ({limits} pixels)"
        raise PermanentFailure(FailureReason.TOO_MANY_PIXELS, message)
    return formats


def _asked(source: Source, options: JobOptions) -> tuple[str, ...]:
    """`accept` for auto; for `original` the input's own format, or what a legacy input may
    faithfully become (`legacy_outputs`); else the one format asked for."""
    if options.format == AUTO:
        return options.accept
    if options.format != ORIGINAL:
        return (options.format,)
    if source.format is not None:
        return (source.format,)
    return legacy_outputs(is_photograph(source.image))


def encode_pixels(image: Image.Image, fmt: str, quality: int) -> bytes:
    """Decoded pixels encoded as the auto path encodes them, without an ICC profile; `image`
    is closed (pass a copy to keep it). The quality search's encoder, and the calibration's."""
    return encode(image, fmt, quality, None, tuned=True).data
