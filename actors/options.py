"""`JobOptions`: what a job asks of the compression, one value from the upload form or the CLI's
flags (`actors.option_fields`) through storage (`to_json`, `from_json`) to the encoder.

Pure: no I/O, no Dramatiq or Redis import, so the API and the CLI may load it before anything
is started.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from actors.errors import OptionError
from actors.formats import AUTO, AUTO_FORMATS, DEFAULT_ACCEPT, DEFAULT_TARGET, REQUESTABLE_FORMATS


@dataclass(frozen=True)
class JobOptions:
    """What a job asks for, checked when it is built. Every field has a default, so options
    stored before a field existed still load."""

    format: str = "original"  # one of REQUESTABLE_FORMATS
    quality: int | Literal["auto"] = 50  # 1..100, or "auto": the lowest meeting `target`
    max_width: int | None = None  # downscale to fit, keep aspect ratio, never upscale
    max_height: int | None = None
    accept: tuple[str, ...] = DEFAULT_ACCEPT  # what format="auto" may choose
    target: float = DEFAULT_TARGET  # the SSIMULACRA2 score quality="auto" aims for

    def __post_init__(self) -> None:
        if self.format not in REQUESTABLE_FORMATS:
            raise OptionError(f"unknown output format {self.format!r}")
        if any(side is not None and side < 1 for side in (self.max_width, self.max_height)):
            raise OptionError("max_width and max_height must be positive")
        _check_auto(self)

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> JobOptions:
        """Options as the job stored them (and its image messages carry them)."""
        return cls(**{**stored, "accept": tuple(stored.get("accept", DEFAULT_ACCEPT))})

    def to_json(self) -> dict[str, Any]:
        """The stored form; `accept` and `target` only where they have an effect."""
        stored: dict[str, Any] = {
            "format": self.format,
            "quality": self.quality,
            "max_width": self.max_width,
            "max_height": self.max_height,
        }
        if self.format == AUTO:
            stored["accept"] = list(self.accept)
        if self.quality == AUTO:
            # Stored with the job: a retried or redelivered image aims at the same score.
            stored["target"] = self.target
        return stored


def _check_auto(options: JobOptions) -> None:
    quality = options.quality
    if quality != AUTO and not (isinstance(quality, int) and 1 <= quality <= 100):
        raise OptionError(f"quality must be 1..100 or 'auto', not {quality!r}")
    if options.format == AUTO and quality != AUTO:
        # Formats are only comparable at equal looks; a number means something else in each.
        raise OptionError("format 'auto' needs quality 'auto'")
    if not options.accept or not set(options.accept) <= set(AUTO_FORMATS):
        raise OptionError(f"accept must list some of {', '.join(AUTO_FORMATS)}")
    if not 0 < options.target < 100:
        raise OptionError(f"target must be a score between 0 and 100, not {options.target}")
