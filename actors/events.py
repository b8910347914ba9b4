"""Publish events and subscribe actors to subject patterns (NATS wildcards).

A subscriber is a Dramatiq actor of its own, so each gets its own message per event: one that
raises is retried alone and never disturbs the pipeline or the other subscribers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

import dramatiq

from actors import runtime
from actors.happenings import Event
from actors.subjects import matches, validate_pattern
from storage import outbox
from storage.outbox import Publication, Staged

Handler = Callable[[str, dict[str, Any]], None]

# A user's subscriber gets a few tries over about a minute; the pipeline's own subscribers
# state their limits where they are declared.
SUBSCRIBER_DEFAULTS: dict[str, Any] = {
    "queue_name": "events",
    "max_retries": 5,
    "min_backoff": 1_000,
    "max_backoff": 30_000,
    "time_limit": 60_000,
}

_routes: list[tuple[str, dramatiq.Actor[Any, Any]]] = []


def subscriber(
    *patterns: str, **actor_options: Any
) -> Callable[[Handler], dramatiq.Actor[Any, Any]]:
    """Bind a function `(subject, event) -> None` to one or more subject patterns."""
    for pattern in patterns:
        validate_pattern(pattern)

    def bind(handler: Handler) -> dramatiq.Actor[Any, Any]:
        options = {**SUBSCRIBER_DEFAULTS, **actor_options}
        name = f"{handler.__module__}.{handler.__qualname__}"
        bound = dramatiq.actor(actor_name=name, broker=runtime.broker(), **options)(handler)
        _routes.extend((pattern, bound) for pattern in patterns)
        return bound

    return bind


def subscribers_of(subject: str) -> list[dramatiq.Actor[Any, Any]]:
    return [bound for pattern, bound in _routes if matches(pattern, subject)]


def publication(event: Event) -> Publication:
    """What the outbox records of an event: its subject, its payload and whether any
    subscriber hears it."""
    return Publication(event.subject, event.payload(), heard=bool(subscribers_of(event.subject)))


def send(staged: Staged) -> int:
    """Hand a recorded event to every matching subscriber, then mark it sent.

    Called by the process that committed it, right after the commit, and by the relay for
    what is still unsent after a grace period. Returns how many subscribers it went to.
    """
    if not staged.heard:
        return 0  # recorded as sent: nobody subscribes to its subject
    targets = subscribers_of(staged.subject)
    for target in targets:
        target.send(staged.subject, staged.payload)
    outbox.mark_sent(staged.event_id)
    return len(targets)


def publish(event: Event) -> int:
    """Record and send an event that accompanies no other state change."""
    return send(outbox.record(publication(event)))


def load_modules(names: Iterable[str]) -> None:
    """Import user subscriber modules (IMGPRESS_SUBSCRIBERS) so their routes exist."""
    for name in names:
        importlib.import_module(name)
