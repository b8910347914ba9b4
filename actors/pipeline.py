"""What a worker process imports: the broker, every pipeline actor, and the user's subscribers.

`dramatiq actors.pipeline` (what `imgpress worker` runs) points here, and the API imports it
so that it can route the events it publishes.
"""

from __future__ import annotations

from actors import compress_image, deliver_webhook, finish_job, split_csv  # noqa: F401
from actors.broker import broker, client, config, redis_url, started_embedded_redis
from actors.events import load_modules
from actors.relay import Relay
from actors.watchdog import Watchdog

load_modules(config.subscribers)
broker.add_middleware(Watchdog())
broker.add_middleware(Relay())

__all__ = ["broker", "client", "config", "redis_url", "started_embedded_redis"]
