"""The periodic threads (the relay, the watchdog) outlive a Redis that does not answer."""

from __future__ import annotations

import logging
import secrets

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.e2e.service import free_port
from tests.receiver import poll


def test_a_periodic_thread_survives_redis_not_answering(
    pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    from actors import timer

    class Ticker(timer.PeriodicThread):
        name = f"test-ticker-{secrets.token_hex(4)}"  # its own Redis key
        ticks = 0

        def tick(self) -> None:
            Ticker.ticks += 1

    # Given a periodic thread whose Redis client reaches nobody (no retries: fail at once)
    dead = redis.Redis(port=free_port(), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    ticker = Ticker(0.05, dead)
    with caplog.at_level(logging.WARNING, logger="imgpress.timer"):
        ticker.after_worker_boot(pipeline.broker, None)
        try:
            # When several periods pass without an answer
            poll(lambda: sum("Redis did not answer" in r.message for r in caplog.records) >= 2)
            # Then, once Redis answers again, the same thread ticks
            ticker.client = pipeline.client
            poll(lambda: Ticker.ticks >= 1)
        finally:
            ticker.before_worker_shutdown(pipeline.broker, None)
