"""Read a multipart upload: stream the CSV to disk under a byte cap, validate every field."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import falcon

from actors.guard import is_blocked_literal
from ops.config import Config
from svc.errors import ApiError, bad_request

FORMATS = ("original", "jpeg", "webp", "avif", "png")
FIELDS = ("file", "webhook_url", "format", "quality", "max_width", "max_height")
MAX_DIMENSION = 20_000
_CHUNK = 64 * 1024


@dataclass
class Upload:
    csv_path: Path  # a temporary file; the caller moves it into place or deletes it
    options: dict[str, Any]
    webhook_url: str | None
    digest: hashlib._Hash = field(repr=False)  # of the file and the fields: Idempotency-Key

    @property
    def fingerprint(self) -> str:
        return self.digest.hexdigest()

    def discard(self) -> None:
        self.csv_path.unlink(missing_ok=True)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "Payload too large", f"the CSV is over the {limit}-byte limit")


def _save_file(part: Any, folder: Path, limit: int, digest: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := part.stream.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)  # stop reading: the rest is never buffered
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _int_field(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise bad_request(
            f"{name} must be a whole number from {low} to {high}, not {raw!r}"
        ) from None
    if not low <= value <= high:
        raise bad_request(f"{name} must be from {low} to {high}, not {value}")
    return value


def _webhook_url(raw: str, allow_private: bool) -> str:
    url = raw.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request(f"webhook_url must be an absolute http(s) URL, not {raw!r}")
    if not allow_private and is_blocked_literal(parts.hostname):
        raise bad_request(
            f"webhook_url points at {parts.hostname}, a loopback, private or reserved address"
        )
    return url


def _options(fields: dict[str, str], config: Config) -> dict[str, Any]:
    fmt = fields.get("format", "").strip().lower() or "original"
    if fmt not in FORMATS:
        raise bad_request(f"format must be one of {', '.join(FORMATS)}, not {fields['format']!r}")
    quality = fields.get("quality", "").strip()
    options: dict[str, Any] = {
        "format": fmt,
        "quality": _int_field("quality", quality, 1, 100) if quality else config.default_quality,
    }
    for name in ("max_width", "max_height"):
        raw = fields.get(name, "").strip()
        options[name] = _int_field(name, raw, 1, MAX_DIMENSION) if raw else None
    return options


def _check_field(name: str, seen: dict[str, str], has_file: bool) -> None:
    if name not in FIELDS:
        raise bad_request(f"unknown form field {name!r}; the fields are: {', '.join(FIELDS)}")
    if name in seen or (name == "file" and has_file):
        raise bad_request(f"the form field {name!r} is given more than once")


def read_upload(req: falcon.Request, config: Config, folder: Path) -> Upload:
    """Parse the form; a rejected upload leaves no file behind."""
    if req.content_type is None or not req.content_type.startswith("multipart/form-data"):
        raise ApiError(
            415,
            "Unsupported media type",
            f"send the CSV as multipart/form-data with a 'file' field, not {req.content_type!r}",
        )
    digest = hashlib.sha256()
    fields: dict[str, str] = {}
    csv_path: Path | None = None
    try:
        for part in req.get_media():
            _check_field(part.name, fields, csv_path is not None)
            if part.name == "file":
                csv_path = _save_file(part, folder, config.max_csv_bytes, digest)
            else:
                fields[part.name] = part.get_text() or ""
        if csv_path is None:
            raise bad_request("the form has no 'file' field: attach the CSV as 'file'")
        return _finish(csv_path, fields, config, digest)
    except BaseException:
        if csv_path is not None:
            csv_path.unlink(missing_ok=True)
        raise


def _finish(csv_path: Path, fields: dict[str, str], config: Config, digest: Any) -> Upload:
    options = _options(fields, config)
    raw_hook = fields.get("webhook_url", "").strip()
    webhook = _webhook_url(raw_hook, config.allow_private_urls) if raw_hook else None
    for name in sorted(fields):
        digest.update(f"\0{name}={fields[name]}".encode())
    return Upload(csv_path, options, webhook, digest)
