"""User subscribers for the tests, loaded through IMGPRESS_SUBSCRIBERS like a user's own.

They record what they see in Redis, so a test in another process can read it.
"""

from __future__ import annotations

import json
from typing import Any

from actors.events import subscriber
from actors.runtime import current


def seen_key(request_id: str) -> str:
    return f"test:events:{request_id}"


@subscriber(">")
def record_everything(subject: str, event: dict[str, Any]) -> None:
    current().client.rpush(
        seen_key(event["request_id"]), json.dumps({"subject": subject, "event": event})
    )


class Flaky(Exception):
    """Raised on purpose: the first delivery of each job.completed fails."""


@subscriber("job.*", min_backoff=100, max_backoff=200)
def fail_once_then_record(subject: str, event: dict[str, Any]) -> None:
    attempts = current().client.incr(f"test:flaky:{event['request_id']}")
    if attempts == 1:
        raise Flaky("the first attempt fails on purpose")
    current().client.rpush(f"test:flaky-ok:{event['request_id']}", subject)


def seen(request_id: str) -> list[dict[str, Any]]:
    return [json.loads(item) for item in current().client.lrange(seen_key(request_id), 0, -1)]
