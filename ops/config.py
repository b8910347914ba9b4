"""The only reader of the environment: one frozen Config, read once per process."""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

DEFAULT_RETRY_DELAYS = "5,300,1800,7200,18000,36000,36000"


class ConfigError(ValueError):
    """Raised when an environment variable holds a value imgpress cannot use."""


@dataclass(frozen=True)
class Config:
    data_dir: Path
    database_url: str
    redis_url: str | None
    public_base_url: str
    default_quality: int
    webhook_secret: str | None
    webhook_retry_delays: tuple[float, ...]
    allow_private_urls: bool
    max_csv_bytes: int
    max_rows: int
    max_images: int
    max_image_bytes: int
    max_pixels: int
    fetch_timeout: float
    fetch_retries: int
    subscribers: tuple[str, ...]
    # Beyond the contract: operational knobs with safe defaults.
    webhook_timeout: float = 10.0
    max_redirects: int = 5
    # How long Redis keeps a dead worker's unacked messages before another
    # worker takes them back (Dramatiq's heartbeat timeout), in milliseconds.
    redelivery_ms: int = 60_000
    # A job in which no image finished for this long (and whose work is no longer queued)
    # is ended by the watchdog, its unfinished images failed with reason `timeout`.
    job_deadline: float = 1800.0
    # Images decoded and encoded at once per worker process. Threads beyond it only download:
    # they hide origin latency without multiplying the memory a large image takes.
    compress_slots: int = 1
    # quality=auto aims at this SSIMULACRA2 score; Pillow JPEG q50 scores ~66 on typical photos.
    auto_target: float = 66.0
    # An event or webhook attempt still unsent this long after its commit is re-sent by the
    # outbox relay: long enough that the committing process normally sent it itself.
    outbox_grace: float = 5.0
    # Image messages a job may have in the broker at once (storage/window.py): as many as the
    # fleet's worker threads keeps them all busy; more makes a small job wait behind more of
    # a large one. 32: the default worker's 2 processes x 16 threads.
    dispatch_window: int = 32
    # Test-only: named instants at which this process SIGKILLs itself (ops/crashpoints.py).
    # Empty in production; IMGPRESS_CRASH_AT is read here like every other variable.
    crash_at: frozenset[str] = frozenset()

    def with_changes(self, **changes: object) -> Config:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def metrics_dir(self) -> Path:
        return self.data_dir / "metrics"


def _int(env: Mapping[str, str], name: str, default: int, low: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < low:
        raise ConfigError(f"{name} must be at least {low}, not {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None


def _delays(raw: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise ConfigError(
            f"IMGPRESS_WEBHOOK_RETRY_DELAYS must be comma-separated seconds, not {raw!r}"
        ) from None


def _secret(raw: str) -> str | None:
    """Checked here, at start-up: a bad key found at the first delivery would strand it."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        key = base64.b64decode(raw.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        key = b""
    if not raw.startswith("whsec_") or len(key) < 16:
        raise ConfigError(
            "IMGPRESS_WEBHOOK_SECRET must be whsec_ then a base64 key of at least 16 bytes"
        )
    return raw


def _score(env: Mapping[str, str], name: str, default: float) -> float:
    value = _float(env, name, default)
    if not 30 <= value <= 95:
        raise ConfigError(f"{name} must be a SSIMULACRA2 score from 30 to 95, not {value:g}")
    return value


def from_env(env: Mapping[str, str]) -> Config:
    """Build a Config from an environment mapping (tests pass their own)."""
    data_dir = Path(env.get("IMGPRESS_DATA_DIR") or "./var").resolve()
    quality = _int(env, "IMGPRESS_DEFAULT_QUALITY", 50, low=1)
    if quality > 100:
        raise ConfigError("IMGPRESS_DEFAULT_QUALITY must be from 1 to 100")
    return Config(
        data_dir=data_dir,
        database_url=env.get("IMGPRESS_DATABASE_URL")
        or f"sqlite:///{data_dir / 'imgpress.sqlite3'}",
        redis_url=env.get("IMGPRESS_REDIS_URL") or None,
        public_base_url=(env.get("IMGPRESS_PUBLIC_BASE_URL") or "http://127.0.0.1:8000").rstrip(
            "/"
        ),
        default_quality=quality,
        webhook_secret=_secret(env.get("IMGPRESS_WEBHOOK_SECRET", "")),
        webhook_retry_delays=_delays(
            env.get("IMGPRESS_WEBHOOK_RETRY_DELAYS", DEFAULT_RETRY_DELAYS)
        ),
        allow_private_urls=env.get("IMGPRESS_ALLOW_PRIVATE_URLS", "0").strip() == "1",
        max_csv_bytes=_int(env, "IMGPRESS_MAX_CSV_BYTES", 20 * 1024 * 1024, low=1),
        max_rows=_int(env, "IMGPRESS_MAX_ROWS", 100_000, low=1),
        max_images=_int(env, "IMGPRESS_MAX_IMAGES", 100_000, low=1),
        max_image_bytes=_int(env, "IMGPRESS_MAX_IMAGE_BYTES", 25 * 1024 * 1024, low=1),
        max_pixels=_int(env, "IMGPRESS_MAX_PIXELS", 50_000_000, low=1),
        fetch_timeout=_float(env, "IMGPRESS_FETCH_TIMEOUT", 20.0),
        fetch_retries=_int(env, "IMGPRESS_FETCH_RETRIES", 3),
        subscribers=tuple(
            name.strip() for name in env.get("IMGPRESS_SUBSCRIBERS", "").split(",") if name.strip()
        ),
        webhook_timeout=_float(env, "IMGPRESS_WEBHOOK_TIMEOUT", 10.0),
        redelivery_ms=_int(env, "IMGPRESS_REDELIVERY_MS", 60_000, low=1000),
        job_deadline=_float(env, "IMGPRESS_JOB_DEADLINE", 1800.0),
        compress_slots=_int(env, "IMGPRESS_COMPRESS_SLOTS", 1, low=1),
        auto_target=_score(env, "IMGPRESS_AUTO_TARGET", 66.0),
        outbox_grace=_float(env, "IMGPRESS_OUTBOX_GRACE", 5.0),
        dispatch_window=_int(env, "IMGPRESS_DISPATCH_WINDOW", 32, low=1),
        crash_at=frozenset(
            name.strip() for name in env.get("IMGPRESS_CRASH_AT", "").split(",") if name.strip()
        ),
    )


# From the colon after the user name to the last "@": a password with an unescaped "@" or
# "/" is hidden whole. Not after "scheme:" itself, so that sqlite:///a@b.db is left alone.
_PASSWORD = re.compile(r"^(?P<user>([a-z][a-z0-9+.-]*://)?[^:/@]*:)(?!//).*@", re.IGNORECASE)


def redacted(url: str) -> str:
    """`url` fit for a message or a log: its password, if any, shown as ***."""
    return _PASSWORD.sub(r"\g<user>***@", url, count=1)


@cache
def load() -> Config:
    """The process's Config, read from os.environ the first time it is asked for."""
    return from_env(os.environ)
