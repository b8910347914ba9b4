"""Read a multipart upload: stream the CSV to disk under a byte cap, validate every field.

The form's shape is checked here (multipart, known fields, each given once, short UTF-8 text);
the values of its fields by `actors.option_fields` (the job's options) and `svc.fields`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import falcon

from actors.option_fields import OPTION_FIELDS, parse_options, shown
from actors.options import JobOptions
from ops.config import Config
from svc.errors import ApiError, bad_request
from svc.fields import webhook

FIELDS = ("file", "webhook_url", *OPTION_FIELDS)
# Every field but the CSV is a short value; a bigger one is refused before it is buffered.
MAX_FIELD_BYTES = 8 * 1024
_CHUNK = 64 * 1024


@dataclass
class Upload:
    csv_path: Path  # a temporary file; the caller moves it into place or deletes it
    options: JobOptions
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


def _check_field(name: str | None, seen: dict[str, str], has_file: bool) -> None:
    if name not in FIELDS:
        raise bad_request(f"unknown form field {shown(name)}; the fields are: {', '.join(FIELDS)}")
    if name in seen or (name == "file" and has_file):
        raise bad_request(f"the form field {name!r} is given more than once")


def _require_multipart(req: falcon.Request) -> None:
    media_type = (req.content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "multipart/form-data":
        raise ApiError(
            415,
            "Unsupported media type",
            "send the CSV as multipart/form-data with a 'file' field, "
            f"not {shown(req.content_type)}",
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
    options = parse_options(fields, config)
    webhook_url = webhook(fields, config)
    for name in sorted(fields):
        digest.update(f"\0{name}={fields[name]}".encode())
    return Upload(csv_path, options, webhook_url, digest)
