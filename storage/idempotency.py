"""Idempotency-Key memory: the same key again returns the first response for 24 hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pony.orm import TransactionIntegrityError, db_session

from storage.db import IdempotencyKey
from storage.sessions import now

KEY_LIFETIME = timedelta(hours=24)
# A first try, and a second once an expired entry in the way is forgotten.
_CLAIMS = 2


class KeyContended(RuntimeError):
    """Raised when a key can be neither claimed nor recalled: at every try, the entry in the
    way was gone by the time we looked (expired, or dropped by a request that opened no job)."""


@dataclass(frozen=True)
class Remembered:
    fingerprint: str
    job_id: str
    response: dict[str, Any]


@db_session(retry=3)
def recall(key: str) -> Remembered | None:
    """The live entry for `key`; an expired one is forgotten on the way."""
    entry = IdempotencyKey.get(key=key)
    if entry is None:
        return None
    if entry.created_at < now() - KEY_LIFETIME:
        entry.delete()
        return None
    return Remembered(entry.fingerprint, entry.job_id, dict(entry.response))


def remember(key: str, fingerprint: str, job_id: str, response: dict[str, Any]) -> Remembered:
    """Store the first response; when another request won the race, return what it stored."""
    ours = Remembered(fingerprint, job_id, response)
    for _ in range(_CLAIMS):
        first = _claim(key, ours)
        if first is not None:
            return first
    raise KeyContended(f"the Idempotency-Key {key!r} was taken and dropped at every try")


def _claim(key: str, ours: Remembered) -> Remembered | None:
    """`ours` once stored, else the live entry in the way; None when that entry had expired
    (contract §10: the key is free again), which `recall` has forgotten meanwhile."""
    try:
        _insert(key, ours.fingerprint, ours.job_id, ours.response)
    except TransactionIntegrityError:
        return recall(key)
    return ours


@db_session(retry=3)
def forget(key: str) -> None:
    """Drop a key whose job could not be opened, so that a retry of the request can succeed."""
    entry = IdempotencyKey.get(key=key)
    if entry is not None:
        entry.delete()


@db_session
def _insert(key: str, fingerprint: str, job_id: str, response: dict[str, Any]) -> None:
    IdempotencyKey(
        key=key, fingerprint=fingerprint, job_id=job_id, response=response, created_at=now()
    )
