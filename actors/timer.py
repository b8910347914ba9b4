"""A Dramatiq middleware that runs a task every period in one thread of each worker process,
and, through a Redis key, in one process at a time across the whole fleet."""

from __future__ import annotations

import logging
import threading
from typing import Any

import dramatiq

from actors import runtime

log = logging.getLogger("imgpress.timer")


class PeriodicThread(dramatiq.Middleware):
    name = "periodic"  # also the Redis key's name: one holder per name

    def __init__(self, period: float) -> None:
        self.period = period
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
            if runtime.current().client.set(
                f"imgpress:{self.name}", "1", nx=True, px=int(self.period * 1000)
            ):
                try:
                    self.tick()
                except Exception:  # the next period tries again; never kill the thread
                    log.exception("%s failed", self.name)
