"""The upload form's fields, checked: the job's options and the webhook URL, or a 400."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from actors.errors import PermanentFailure
from actors.formats import AUTO, AUTO_FORMATS, DEFAULT_ACCEPT
from actors.guard import check_url, is_blocked_literal
from ops.config import Config
from svc.errors import bad_request

FORMATS = ("original", "auto", "jpeg", "webp", "avif", "png")
MAX_DIMENSION = 20_000
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def shown(raw: str | None) -> str:
    """A value quoted in an error, cut short: a field may hold up to MAX_FIELD_BYTES
    (svc.upload)."""
    return repr(raw if raw is None or len(raw) <= 60 else raw[:60] + "...")


def job_options(fields: dict[str, str], config: Config) -> dict[str, Any]:
    fmt = fields.get("format", "").strip().lower() or "original"
    if fmt not in FORMATS:
        raise bad_request(
            f"format must be one of {', '.join(FORMATS)}, not {shown(fields['format'])}"
        )
    options: dict[str, Any] = {"format": fmt, "quality": _quality(fields, fmt, config)}
    for name in ("max_width", "max_height"):
        raw = fields.get(name, "").strip()
        options[name] = _int_field(name, raw, 1, MAX_DIMENSION) if raw else None
    accept = _accept(fields.get("accept", ""))  # checked even when it will have no effect
    if fmt == AUTO:
        options["accept"] = list(accept)
    if options["quality"] == AUTO:
        # Stored with the job: a retried or redelivered image aims at the same score.
        options["target"] = config.auto_target
    return options


def webhook(fields: dict[str, str], config: Config) -> str | None:
    """The checked webhook_url, or None when the form leaves it out or blank."""
    raw = fields.get("webhook_url", "").strip()
    return _webhook_url(raw, config.allow_private_urls) if raw else None


def _int_field(name: str, raw: str, low: int, high: int) -> int:
    # ASCII digits only: int() would also take "1_000", "+5" and other scripts' digits.
    if not _WHOLE_NUMBER.fullmatch(raw):
        raise bad_request(f"{name} must be a whole number from {low} to {high}, not {shown(raw)}")
    if len(raw) > 9 or not low <= int(raw) <= high:  # int() of 4,301+ digits would raise
        raise bad_request(f"{name} must be from {low} to {high}, not {shown(raw)[1:-1]}")
    return int(raw)


def _webhook_url(raw: str, allow_private: bool) -> str:
    url = raw.strip()
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 address
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request(f"webhook_url must be an absolute http(s) URL, not {shown(raw)}")
    if "@" in parts.netloc:
        # Refused as the fetch guard refuses it; the credentials are not echoed back.
        raise bad_request(
            "webhook_url must not hold a user name or password (user@host); "
            "verify deliveries with the webhook signature instead"
        )
    if _SPACE_OR_CONTROL.search(url):
        raise bad_request(
            f"webhook_url must not contain spaces or control characters: {shown(raw)}"
        )
    try:
        host = check_url(url).host
    except PermanentFailure as refused:
        raise bad_request(f"webhook_url cannot be used: {refused.message}") from None
    if not allow_private and is_blocked_literal(host):
        raise bad_request(
            f"webhook_url points at {parts.hostname}, a loopback, private or reserved address"
        )
    return url


def _quality(fields: dict[str, str], fmt: str, config: Config) -> int | str:
    raw = fields.get("quality", "").strip()
    if raw.lower() == AUTO or (not raw and fmt == AUTO):
        return AUTO
    if fmt == AUTO:
        raise bad_request(
            "format=auto compares formats at equal perceived quality, so it chooses the quality "
            f"too: send quality=auto or leave quality out, not {shown(raw)}"
        )
    if not raw:
        return config.default_quality
    if not _WHOLE_NUMBER.fullmatch(raw):
        raise bad_request(f"quality must be a whole number from 1 to 100 or auto, not {shown(raw)}")
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
        raise bad_request(
            f"accept must be a comma-separated list of formats among {', '.join(AUTO_FORMATS)} "
            f"(e.g. avif,webp,jpeg): {found}"
        )
    return tuple(name for name in AUTO_FORMATS if name in names)
