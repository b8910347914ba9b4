"""Read a multipart upload: stream the CSV to disk under a byte cap, validate every field."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import falcon

from actors.errors import PermanentFailure
from actors.formats import AUTO, AUTO_FORMATS, DEFAULT_ACCEPT
from actors.guard import check_url, is_blocked_literal
from ops.config import Config
from svc.errors import ApiError, bad_request

FORMATS = ("original", "auto", "jpeg", "webp", "avif", "png")
FIELDS = ("file", "webhook_url", "format", "quality", "max_width", "max_height", "accept")
MAX_DIMENSION = 20_000
# Every field but the CSV is a short value; a bigger one is refused before it is buffered.
MAX_FIELD_BYTES = 8 * 1024
_CHUNK = 64 * 1024
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


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


def _shown(raw: str | None) -> str:
    """A value quoted in an error, cut short: a field may hold up to MAX_FIELD_BYTES."""
    return repr(raw if raw is None or len(raw) <= 60 else raw[:60] + "...")


def _int_field(name: str, raw: str, low: int, high: int) -> int:
    # ASCII digits only: int() would also take "1_000", "+5" and other scripts' digits.
    if not _WHOLE_NUMBER.fullmatch(raw):
        raise bad_request(f"{name} must be a whole number from {low} to {high}, not {_shown(raw)}")
    if len(raw) > 9 or not low <= int(raw) <= high:  # int() of 4,301+ digits would raise
        raise bad_request(f"{name} must be from {low} to {high}, not {_shown(raw)[1:-1]}")
    return int(raw)


def _webhook_url(raw: str, allow_private: bool) -> str:
    url = raw.strip()
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 address
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request(f"webhook_url must be an absolute http(s) URL, not {_shown(raw)}")
    if "@" in parts.netloc:
        # Refused as the fetch guard refuses it; the credentials are not echoed back.
        raise bad_request(
            "webhook_url must not hold a user name or password (user@host); "
            "verify deliveries with the webhook signature instead"
        )
    if _SPACE_OR_CONTROL.search(url):
        raise bad_request(
            f"webhook_url must not contain spaces or control characters: {_shown(raw)}"
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


def _options(fields: dict[str, str], config: Config) -> dict[str, Any]:
    fmt = fields.get("format", "").strip().lower() or "original"
    if fmt not in FORMATS:
        raise bad_request(
            f"format must be one of {', '.join(FORMATS)}, not {_shown(fields['format'])}"
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


def _quality(fields: dict[str, str], fmt: str, config: Config) -> int | str:
    raw = fields.get("quality", "").strip()
    if raw.lower() == AUTO or (not raw and fmt == AUTO):
        return AUTO
    if fmt == AUTO:
        raise bad_request(
            "format=auto compares formats at equal perceived quality, so it chooses the quality "
            f"too: send quality=auto or leave quality out, not {_shown(raw)}"
        )
    if not raw:
        return config.default_quality
    if not _WHOLE_NUMBER.fullmatch(raw):
        raise bad_request(
            f"quality must be a whole number from 1 to 100 or auto, not {_shown(raw)}"
        )
    return _int_field("quality", raw, 1, 100)


def _accept(raw: str) -> tuple[str, ...]:
    """The formats format=auto may choose, in a fixed order; blank means the default."""
    if not raw.strip():
        return DEFAULT_ACCEPT
    names = {name.strip().lower() for name in raw.split(",")} - {""}
    unknown = sorted(names - set(AUTO_FORMATS))
    if unknown or not names:
        shown = ", ".join(_shown(name) for name in unknown[:3]) + (", ..." if unknown[3:] else "")
        found = f"found {shown}" if unknown else "it names none"
        raise bad_request(
            f"accept must be a comma-separated list of formats among {', '.join(AUTO_FORMATS)} "
            f"(e.g. avif,webp,jpeg): {found}"
        )
    return tuple(name for name in AUTO_FORMATS if name in names)


def _check_field(name: str | None, seen: dict[str, str], has_file: bool) -> None:
    if name not in FIELDS:
        raise bad_request(f"unknown form field {_shown(name)}; the fields are: {', '.join(FIELDS)}")
    if name in seen or (name == "file" and has_file):
        raise bad_request(f"the form field {name!r} is given more than once")


def _require_multipart(req: falcon.Request) -> None:
    media_type = (req.content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "multipart/form-data":
        raise ApiError(
            415,
            "Unsupported media type",
            "send the CSV as multipart/form-data with a 'file' field, "
            f"not {_shown(req.content_type)}",
        )


def _form(req: falcon.Request) -> Any:
    # Not req.get_media(): Falcon looks its handler up by the exact Content-Type, but a media
    # type is case-insensitive (RFC 9110), so "Multipart/Form-Data" is a form too.
    handler = req.options.media_handlers[falcon.MEDIA_MULTIPART]
    return handler.deserialize(req.bounded_stream, req.content_type, req.content_length)


def _read_field(part: Any) -> str:
    data = part.stream.read(MAX_FIELD_BYTES + 1)
    if len(data) > MAX_FIELD_BYTES:
        raise ApiError(
            413,
            "Payload too large",
            f"the form field {part.name!r} is over the {MAX_FIELD_BYTES:,}-byte limit of a "
            "field; only the CSV ('file') may be large",
        )
    try:
        return str(data, "utf-8")
    except UnicodeDecodeError:
        raise bad_request(f"the form field {part.name!r} is not UTF-8 text") from None


@dataclass
class _Form:
    fields: dict[str, str] = field(default_factory=dict)
    csv_path: Path | None = None

    def discard(self) -> None:
        if self.csv_path is not None:
            self.csv_path.unlink(missing_ok=True)


def _read_parts(
    req: falcon.Request, form: _Form, config: Config, folder: Path, digest: Any
) -> None:
    try:
        for part in _form(req):
            _check_field(part.name, form.fields, form.csv_path is not None)
            if part.name == "file":
                form.csv_path = _save_file(part, folder, config.max_csv_bytes, digest)
            else:
                form.fields[part.name] = _read_field(part)
    except falcon.MediaMalformedError as error:
        raise bad_request(
            f"the multipart/form-data body is malformed or cut short ({error.description}): "
            "send the whole form again, ending with its closing boundary"
        ) from None


def read_upload(req: falcon.Request, config: Config, folder: Path) -> Upload:
    """Parse the form; a rejected upload leaves no file behind."""
    _require_multipart(req)
    digest = hashlib.sha256()
    form = _Form()
    try:
        _read_parts(req, form, config, folder, digest)
        if form.csv_path is None:
            raise bad_request("the form has no 'file' field: attach the CSV as 'file'")
        return _finish(form.csv_path, form.fields, config, digest)
    except BaseException:
        form.discard()
        raise


def _finish(csv_path: Path, fields: dict[str, str], config: Config, digest: Any) -> Upload:
    options = _options(fields, config)
    raw_hook = fields.get("webhook_url", "").strip()
    webhook = _webhook_url(raw_hook, config.allow_private_urls) if raw_hook else None
    for name in sorted(fields):
        digest.update(f"\0{name}={fields[name]}".encode())
    return Upload(csv_path, options, webhook, digest)
