"""The transactional outbox: an event is written in the transaction of the state change that
causes it, and stays unsent until a sender marks it sent.

The committing process sends it straight after its commit; the relay (actors/relay.py) sends
whatever is still unsent a grace period later, so a process killed between the two loses
nothing. Delivery is therefore at least once, and `event_id` lets subscribers drop repeats.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from pony.orm import db_session

from storage.db import OutboxEntry
from storage.sessions import RETRY, now


class Publication(NamedTuple):
    """What a state change hands the outbox: the subject and the payload, without the envelope.

    `heard` says whether any subscriber's pattern matches the subject. An event nobody hears
    is recorded already sent: it is kept, but nobody has to mark it (a second transaction per
    image when, as in most deployments, nothing subscribes to `image.*`)."""

    subject: str
    body: dict[str, Any]
    heard: bool = True


@dataclass(frozen=True)
class Staged:
    """An event as recorded: its payload carries `event_id` and `occurred_at` (contract §10)."""

    event_id: str
    subject: str
    payload: dict[str, Any]
    heard: bool = True  # False: recorded as sent, nobody to send it to


def stage(publication: Publication) -> Staged:
    """Record one event in the caller's db_session: it commits, or rolls back, with it."""
    subject, body, heard = publication
    occurred = now()
    event_id = f"evt_{secrets.token_hex(12)}"
    payload = {**body, "event_id": event_id, "occurred_at": occurred.isoformat() + "Z"}
    sent_at = None if heard else occurred
    OutboxEntry(
        event_id=event_id, subject=subject, payload=payload, created_at=occurred, sent_at=sent_at
    )
    return Staged(event_id, subject, payload, heard)


@db_session(**RETRY)
def record(publication: Publication) -> Staged:
    """An event that accompanies no other change, in a transaction of its own."""
    return stage(publication)


@db_session(**RETRY)
def mark_sent(event_id: str) -> None:
    entry = OutboxEntry.get(event_id=event_id)
    if entry is not None and entry.sent_at is None:
        entry.sent_at = now()


@db_session(**RETRY)
def unsent(committed_before: datetime, limit: int = 500) -> list[Staged]:
    """The oldest events nobody marked sent, committed before the given time."""
    query = OutboxEntry.select(lambda e: e.sent_at is None and e.created_at < committed_before)
    return [
        Staged(entry.event_id, entry.subject, dict(entry.payload))
        for entry in query.order_by(OutboxEntry.id)[:limit]
    ]
