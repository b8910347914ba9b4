"""`bootstrap(config)`: build a process's broker, database binding and shared clients, once.

Every entry point calls it first (the gunicorn app factory, the Dramatiq worker module, the
CLI, the test suite); importing a module never connects to anything. Dramatiq declares an
actor against a broker when its module is imported, so actor modules are imported only after
`bootstrap` (actors.pipeline.start does both, in that order), and they declare themselves with
`broker=runtime.broker()`: importing one too early fails here, saying so, rather than in
Dramatiq's fallback to a RabbitMQ broker nobody configured.
"""

from __future__ import annotations

from dataclasses import dataclass

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from actors.broker import build_broker, patient_client
from actors.fetch import Fetcher
from ops import embedded
from ops.config import Config
from storage import db
from storage.counters import CompletionCounter
from storage.files import Layout, PublicUrls
from storage.window import DispatchWindow


@dataclass(frozen=True)
class Runtime:
    """The collaborators every part of one process shares, built from its Config."""

    config: Config
    broker: RedisBroker
    redis_url: str
    started_embedded_redis: bool  # this process started the server, so it may stop it
    layout: Layout
    urls: PublicUrls
    counter: CompletionCounter
    window: DispatchWindow
    fetcher: Fetcher

    @property
    def client(self) -> redis.Redis:
        return self.broker.client


_current: Runtime | None = None


def bootstrap(config: Config) -> Runtime:
    """Build the process's Runtime from `config`; later calls with the same config return it."""
    global _current
    if _current is not None:
        if _current.config != config:
            raise RuntimeError("this process is already wired to another Config")
        return _current
    _current = _build(config)
    return _current


def _build(config: Config) -> Runtime:
    url, started = _redis_url(config)
    broker = build_broker(patient_client(url), config.redelivery_ms)
    dramatiq.set_broker(broker)
    db.bind(config.database_url)
    return Runtime(
        config=config,
        broker=broker,
        redis_url=url,
        started_embedded_redis=started,
        layout=Layout(config.data_dir),
        urls=PublicUrls(config.public_base_url),
        counter=CompletionCounter(broker.client),
        window=DispatchWindow(broker.client, config.dispatch_window),
        fetcher=Fetcher(config),
    )


def _redis_url(config: Config) -> tuple[str, bool]:
    """The broker's URL, and whether this process started the embedded server."""
    if config.redis_url:
        return config.redis_url, False
    return embedded.ensure_running(config.data_dir)


def current() -> Runtime:
    """This process's Runtime; bootstrap(config) must have run."""
    if _current is None:
        raise RuntimeError(
            "imgpress is not wired in this process: call actors.runtime.bootstrap(config) "
            "(or actors.pipeline.start) before using the pipeline or importing an actor module"
        )
    return _current


def broker() -> RedisBroker:
    """The broker an actor module declares its actors against."""
    return current().broker
