"""The outbox relay: sends what the committing process did not get to send.

An event committed and not marked sent after IMGPRESS_OUTBOX_GRACE seconds is sent again;
a webhook delivery overdue by as long gets its attempt sent again. Either may then be
delivered twice: subscribers drop repeats by `event_id`, receivers by `webhook-id`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import redis

from actors import events, runtime
from actors.deliver_webhook import IN_FLIGHT_SECONDS, attempt_webhook
from actors.timer import PeriodicThread
from ops.config import Config
from storage import outbox
from storage.sessions import now
from storage.webhook_attempts import claim_due_attempts

log = logging.getLogger("imgpress.relay")


def relay_once() -> int:
    """Send every overdue event and webhook attempt; how many it sent."""
    before = now() - timedelta(seconds=runtime.current().config.outbox_grace)
    overdue = outbox.unsent(before)
    for staged in overdue:
        log.info("relaying %s %s, unsent since its commit", staged.subject, staged.event_id)
        events.send(staged)
    attempts = claim_due_attempts(before, IN_FLIGHT_SECONDS)
    for due in attempts:
        log.info("resuming the webhook of job %s at attempt %d", due.job_id, due.attempt)
        attempt_webhook.send(due.job_id, due.attempt)
    return len(overdue) + len(attempts)


class Relay(PeriodicThread):
    name = "relay"

    def __init__(self, config: Config, client: redis.Redis) -> None:
        super().__init__(max(0.2, min(config.outbox_grace / 2, 1.0)), client)

    def tick(self) -> None:
        relay_once()
