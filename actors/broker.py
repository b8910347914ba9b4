"""How imgpress's Dramatiq broker and Redis client are built (actors.runtime wires them)."""

from __future__ import annotations

import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage, Retries
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from ops import metrics

_MAINTENANCE_CHANCE = 1_000_000  # per million commands: every one


def patient_client(url: str) -> redis.Redis:
    """A client that rides out a Redis restart (~20 s) instead of failing the command.

    Without it a worker that finished an image while Redis restarted could neither count it
    nor ack it, and Dramatiq would leave the message unacked until that worker restarts.
    Every command of ours tolerates a repeat (the pipeline is idempotent), so a retry after
    a lost reply is safe.
    """
    retry = Retry(ExponentialWithJitterBackoff(base=0.05, cap=2.0), retries=12)
    return redis.Redis.from_url(url, retry=retry, retry_on_error=[redis.ConnectionError])


def build_broker(client: redis.Redis, redelivery_ms: int) -> RedisBroker:
    # A dead worker's unacked messages return to its queues once its heartbeat is older than
    # the timeout, at the next "maintenance" a live worker runs on that queue. Dramatiq runs
    # it on 0.1% of commands, which leaves recovery to chance (~100 s seen with an idle
    # consumer polling once a second). On every command it costs one ZRANGEBYSCORE on the
    # heartbeat set, and recovery becomes the timeout plus at most a poll interval.
    built = RedisBroker(
        client=client, heartbeat_timeout=redelivery_ms, maintenance_chance=_MAINTENANCE_CHANCE
    )
    for middleware in built.middleware:
        if isinstance(middleware, Retries):
            # Dramatiq's default (20 retries over weeks) is never right here; actors
            # state their own limits, and this is the floor for any that forgets.
            middleware.max_retries = 3
    built.add_middleware(CurrentMessage())
    built.add_middleware(metrics.ProcessLife())
    return built
