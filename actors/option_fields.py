"""Job options given as text, the upload form's fields or `imgpress process`'s flags, parsed into
`JobOptions`. One path for both, so the API's 400 and the CLI's exit 2 say the same thing about
the same value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from actors.errors import OptionError
from actors.formats import AUTO, AUTO_FORMATS, DEFAULT_ACCEPT, DEFAULT_TARGET, REQUESTABLE_FORMATS
from actors.options import JobOptions
from ops.config import Config

# The fields, as the form names them; the CLI's flags are the same words (--max-width).
OPTION_FIELDS = ("format", "quality", "max_width", "max_height", "accept")
MAX_DIMENSION = 20_000
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def shown(raw: str | None) -> str:
    """A value quoted in an error, cut short: a form field may hold up to 8 KiB
    (svc.upload.MAX_FIELD_BYTES)."""
    return repr(raw if raw is None or len(raw) <= 60 else raw[:60] + "...")


def parse_options(fields: Mapping[str, str], config: Config) -> JobOptions:
    """The options `fields` ask for, a blank or missing field taking its default; an OptionError
    naming the first field that is wrong, and why."""
    fmt = fields.get("format", "").strip().lower() or "original"
    if fmt not in REQUESTABLE_FORMATS:
        listed = ", ".join(REQUESTABLE_FORMATS)
        raise OptionError(f"format must be one of {listed}, not {shown(fields['format'])}")
    quality = _quality(fields.get("quality", "").strip(), fmt, config.default_quality)
    max_width, max_height = _side("max_width", fields), _side("max_height", fields)
    accept = _accept(fields.get("accept", ""))  # checked even when it will have no effect
    return JobOptions(
        fmt,
        quality,
        max_width,
        max_height,
        # A field without effect keeps its default: `to_json` leaves it out, so it reads back so.
        accept=accept if fmt == AUTO else DEFAULT_ACCEPT,
        target=config.auto_target if quality == AUTO else DEFAULT_TARGET,
    )


def _side(name: str, fields: Mapping[str, str]) -> int | None:
    raw = fields.get(name, "").strip()
    return _int_field(name, raw, 1, MAX_DIMENSION) if raw else None


def _int_field(name: str, raw: str, low: int, high: int) -> int:
    # ASCII digits only: int() would also take "1_000", "+5" and other scripts' digits.
    if not _WHOLE_NUMBER.fullmatch(raw):
        raise OptionError(f"{name} must be a whole number from {low} to {high}, not {shown(raw)}")
    if len(raw) > 9 or not low <= int(raw) <= high:  # int() of 4,301+ digits would raise
        raise OptionError(f"{name} must be from {low} to {high}, not {shown(raw)[1:-1]}")
    return int(raw)


def _quality(raw: str, fmt: str, default: int) -> int | Literal["auto"]:
    if raw.lower() == AUTO or (not raw and fmt == AUTO):
        return AUTO
    if fmt == AUTO:
        raise OptionError(
            "format=auto compares formats at equal perceived quality, so it chooses the quality "
            f"too: send quality=auto or leave quality out, not {shown(raw)}"
        )
    if not raw:
        return default
    if not _WHOLE_NUMBER.fullmatch(raw):
        raise OptionError(f"quality must be a whole number from 1 to 100 or auto, not {shown(raw)}")
    return _int_field("quality", raw, 1, 100)


def _accept(raw: str) -> tuple[str, ...]:
    """The formats format=auto may choose, in a fixed order; blank means the default."""
    if not raw.strip():
        return DEFAULT_ACCEPT
    names = {name.strip().lower() for name in raw.split(",")} - {""}
    unknown = sorted(names - set(AUTO_FORMATS))
    if unknown or not names:
        listed = ", ".join(shown(name) for name in unknown[:3]) + (", ..." if unknown[3:] else "")
        found = f"found {listed}" if unknown else "it names none"
        raise OptionError(
            f"accept must be a comma-separated list of formats among {', '.join(AUTO_FORMATS)} "
            f"(e.g. avif,webp,jpeg): {found}"
        )
    return tuple(name for name in AUTO_FORMATS if name in names)
