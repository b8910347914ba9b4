"""The Dramatiq broker, configured before any actor is imported (or Dramatiq builds its own).

Every actor module imports this first. It also binds the database, so an actor can rely on
storage being ready in any process that imports it: the API, a worker, `imgpress process`.
"""

from __future__ import annotations

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage, Retries

from ops import config as config_module
from ops import (
    embedded,
    metrics,  # noqa: F401  (sets up multiprocess metrics before anything counts)
)
from storage import db

config = config_module.load()


def _redis_url() -> tuple[str, bool]:
    """The broker's URL, and whether this process started the embedded server."""
    if config.redis_url:
        return config.redis_url, False
    return embedded.ensure_running(config.data_dir)


def _build_broker(url: str) -> RedisBroker:
    # A dead worker's unacked messages return to the queue after the heartbeat timeout.
    built = RedisBroker(url=url, heartbeat_timeout=config.redelivery_ms)
    for middleware in built.middleware:
        if isinstance(middleware, Retries):
            # Dramatiq's default (20 retries over weeks) is never right here; actors
            # state their own limits, and this is the floor for any that forgets.
            middleware.max_retries = 3
    built.add_middleware(CurrentMessage())
    return built


redis_url, started_embedded_redis = _redis_url()
broker = _build_broker(redis_url)
dramatiq.set_broker(broker)
client: redis.Redis = broker.client
db.bind(config.database_url)
