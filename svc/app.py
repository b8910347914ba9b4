"""The Falcon app: `create_app(config)` builds everything; gunicorn runs `get_app()`."""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable
from typing import Any

import falcon
import redis
from dramatiq.brokers.redis import RedisBroker
from pony.orm import db_session
from redis.backoff import NoBackoff
from redis.retry import Retry

from actors import pipeline
from actors.runtime import Runtime
from ops import metrics
from ops.config import Config
from ops.config import load as load_config
from storage.db import db
from svc import errors, resources
from svc.openapi import document
from svc.submission import Submissions

# Older mimetypes tables lack these; the files must go out with the right Content-Type.
mimetypes.add_type("image/avif", ".avif")
mimetypes.add_type("image/webp", ".webp")
mimetypes.add_type("text/csv", ".csv")


class HttpMetrics:
    """Counts and times every request by route template, never by raw path or job id."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.perf_counter()

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool
    ) -> None:
        route = req.uri_template or _static_prefix(req.path)
        method = req.method if req.method in HTTP_METHODS else "other"
        metrics.HTTP_REQUESTS.labels(route, method, str(resp.status_code)).inc()
        metrics.HTTP_SECONDS.labels(route).observe(time.perf_counter() - req.context.started)


def _static_prefix(path: str) -> str:
    for prefix in STATIC_PREFIXES:
        if path.startswith(prefix + "/"):
            return prefix + "/{path}"
    return "unmatched"


STATIC_PREFIXES = ("/output_csv", "/reports", "/output_images")
# gunicorn hands on any upper-case token of 3 to 20 characters as the method: as a label,
# only the standard ones, or a client could make series without end (contract §10).
HTTP_METHODS = frozenset(falcon.constants.HTTP_METHODS)


def _queue_depths(broker: RedisBroker) -> Callable[[], dict[str, int]]:
    def read() -> dict[str, int]:
        return {
            queue: int(broker.client.llen(f"{broker.namespace}:{queue}"))
            for queue in sorted(broker.get_declared_queues())
        }

    return read


@db_session
def _database_answers() -> None:
    db.select("SELECT 1")


def _redis_answers(redis_url: str) -> Callable[[], None]:
    # Readiness must answer fast: its own client, no retries, a short timeout.
    client = redis.Redis.from_url(
        redis_url, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
    )

    def ping() -> None:
        client.ping()

    return ping


def routes(runtime: Runtime) -> dict[str, Any]:
    config, urls = runtime.config, runtime.urls
    upload = resources.UploadResource(config, runtime.layout.inputs, Submissions(urls))
    return {
        "/upload": upload,
        "/upload/": upload,
        "/status/{request_id}": resources.StatusResource(urls),
        "/healthz": resources.HealthResource(),
        "/readyz": resources.ReadyResource(
            {"redis": _redis_answers(runtime.redis_url), "database": _database_answers}
        ),
        "/metrics": resources.MetricsResource(_queue_depths(runtime.broker)),
        "/openapi.json": resources.OpenApiResource(document(config)),
    }


def create_app(config: Config) -> falcon.App:
    """The API on `config`: wires this process (actors.pipeline.start), then builds the app."""
    runtime = pipeline.start(config)
    app = falcon.App(middleware=[HttpMetrics()])
    errors.install(app)
    for path, resource in routes(runtime).items():
        app.add_route(path, resource)
    layout = runtime.layout
    layout.create()
    for prefix, folder in zip(
        STATIC_PREFIXES, (layout.output_csvs, layout.reports, layout.images), strict=True
    ):
        app.add_static_route(prefix, str(folder))
    return app


def get_app() -> falcon.App:
    """What gunicorn runs (`svc.app:get_app()`)."""
    return create_app(load_config())
