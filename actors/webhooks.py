"""Standard Webhooks signing (https://www.standardwebhooks.com), and the receiver's check.

The signed content is "{webhook-id}.{webhook-timestamp}.{body}", HMAC-SHA256 with the key
that `whsec_<base64 key>` carries; the header holds "v1,<base64 signature>", and several
space-separated signatures while a secret is being rotated.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"


class WebhookVerificationError(ValueError):
    """Raised when a webhook's headers or signature do not prove it came from the sender."""


def _key(secret: str) -> bytes:
    # Receivers often paste the key without its prefix; both forms name the same key.
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret must be whsec_ followed by a base64 key") from None


def _digest(key: bytes, msg_id: str, timestamp: int | str, body: bytes) -> bytes:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one message: "v1,<base64 HMAC-SHA256>"."""
    digest = _digest(_key(secret), msg_id, timestamp, body)
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signed_headers(secret: str | None, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Headers of a JSON webhook POST; `webhook-signature` only when there is a secret."""
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
    }
    if secret:
        headers["webhook-signature"] = sign(secret, msg_id, timestamp, body)
    return headers


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance: int = 300,
    now: int | None = None,
) -> None:
    """Check a received webhook; raise WebhookVerificationError unless it is genuine and fresh.

    `tolerance` (seconds) bounds how old, or how far in the future, the timestamp may be, so a
    captured request cannot be replayed later.
    """
    msg_id, raw_timestamp, signatures = _required(headers)
    _check_fresh(raw_timestamp, tolerance, now)
    expected = _digest(_key(secret), msg_id, raw_timestamp, body)
    for candidate in signatures.split():
        version, _, encoded = candidate.partition(",")
        if version == SIGNATURE_VERSION and hmac.compare_digest(_b64(encoded), expected):
            return
    raise WebhookVerificationError("no signature matches the message")


def _required(headers: Mapping[str, str]) -> tuple[str, str, str]:
    lowered = {name.lower(): value for name, value in headers.items()}
    names = ("webhook-id", "webhook-timestamp", "webhook-signature")
    missing = [name for name in names if not lowered.get(name)]
    if missing:
        raise WebhookVerificationError(f"missing header(s): {', '.join(missing)}")
    return lowered["webhook-id"], lowered["webhook-timestamp"], lowered["webhook-signature"]


def _check_fresh(raw: str, tolerance: int, now: int | None) -> None:
    try:
        timestamp = int(raw)
    except ValueError:
        raise WebhookVerificationError(f"webhook-timestamp is not unix seconds: {raw!r}") from None
    current = int(time.time()) if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError(
            f"webhook-timestamp is {current - timestamp} s away from now (tolerance {tolerance} s)"
        )


def _b64(encoded: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        return b""  # compares unequal, like any other wrong signature
