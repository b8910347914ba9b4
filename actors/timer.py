"""A Dramatiq middleware that runs a task every period in one thread of each worker process,
and, through a Redis key, in one process at a time across the whole fleet."""

from __future__ import annotations

import logging
import threading
from typing import Any

import dramatiq
import redis

log = logging.getLogger("imgpress.timer")


class PeriodicThread(dramatiq.Middleware):
    name = "periodic"  # also the Redis key's name: one holder per name

    def __init__(self, period: float, client: redis.Redis) -> None:
        self.period = period
        self.client = client  # where the holder key lives
        self._stop = threading.Event()

    def tick(self) -> None:
        raise NotImplementedError

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        thread = threading.Thread(target=self._run, name=f"imgpress-{self.name}", daemon=True)
        thread.start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            # Never let the thread die: Redis down for longer than the client's retries would
            # otherwise end the relay (or the watchdog) of this process for good.
            try:
                self._tick_if_ours()
            except redis.RedisError as error:
                log.warning("%s skipped a period: Redis did not answer (%s)", self.name, error)
            except Exception:  # the next period tries again
                log.exception("%s failed", self.name)

    def _tick_if_ours(self) -> None:
        if self.client.set(f"imgpress:{self.name}", "1", nx=True, px=int(self.period * 1000)):
            self.tick()
