"""The upload form's webhook_url, checked, or a 400. The job's options are parsed as the CLI's
flags are, by `actors.option_fields`."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from actors.errors import PermanentFailure
from actors.guard import check_url, is_blocked_literal
from actors.option_fields import shown
from ops.config import Config
from svc.errors import bad_request

_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


def webhook(fields: dict[str, str], config: Config) -> str | None:
    """The checked webhook_url, or None when the form leaves it out or blank."""
    raw = fields.get("webhook_url", "").strip()
    return _webhook_url(raw, config.allow_private_urls) if raw else None


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
