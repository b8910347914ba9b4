"""`EncodeOptions`: what a job asks of the compression, checked when it is built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from actors.formats import AUTO, AUTO_FORMATS, DEFAULT_ACCEPT, DEFAULT_TARGET, REQUESTABLE_FORMATS


@dataclass(frozen=True)
class EncodeOptions:
    """What a job asks for; built from the job's JSON options, so every field is JSON-friendly
    and has a default (options stored before a field existed still load)."""

    format: str = "original"  # "original" | "auto" | "jpeg" | "webp" | "avif" | "png"
    quality: int | Literal["auto"] = 50  # 1..100, or "auto": the lowest meeting `target`
    max_width: int | None = None  # downscale to fit, keep aspect ratio, never upscale
    max_height: int | None = None
    accept: tuple[str, ...] = DEFAULT_ACCEPT  # what format="auto" may choose (JSON: a list)
    target: float = DEFAULT_TARGET  # the SSIMULACRA2 score quality="auto" aims for

    def __post_init__(self) -> None:
        object.__setattr__(self, "accept", tuple(self.accept))  # a JSON list becomes a tuple
        if self.format not in REQUESTABLE_FORMATS:
            raise ValueError(f"unknown output format {self.format!r}")
        if any(side is not None and side < 1 for side in (self.max_width, self.max_height)):
            raise ValueError("max_width and max_height must be positive")
        _check_auto(self)


def _check_auto(options: EncodeOptions) -> None:
    quality = options.quality
    if quality != AUTO and not (isinstance(quality, int) and 1 <= quality <= 100):
        raise ValueError(f"quality must be 1..100 or 'auto', not {quality!r}")
    if options.format == AUTO and quality != AUTO:
        # Formats are only comparable at equal looks; a number means something else in each.
        raise ValueError("format 'auto' needs quality 'auto'")
    if not options.accept or not set(options.accept) <= set(AUTO_FORMATS):
        raise ValueError(f"accept must list some of {', '.join(AUTO_FORMATS)}")
    if not 0 < options.target < 100:
        raise ValueError(f"target must be a score between 0 and 100, not {options.target}")
