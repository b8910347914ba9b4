"""The Falcon app: `create_app(config)` builds everything; gunicorn runs `get_app()`."""

from __future__ import annotations

import mimetypes
import time
from typing import Any

import falcon
import redis
from pony.orm import db_session
from redis.backoff import NoBackoff
from redis.retry import Retry

from actors import pipeline
from ops import metrics
from ops.config import Config
from ops.config import load as load_config
from storage.db import db
from storage.files import Layout, PublicUrls
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


def _queue_depths() -> dict[str, int]:
    client = pipeline.broker.client
    depths = {}
    for queue in sorted(pipeline.broker.get_declared_queues()):
        depths[queue] = int(client.llen(f"{pipeline.broker.namespace}:{queue}"))
    return depths


@db_session
def _database_answers() -> None:
    db.select("SELECT 1")


# Readiness must answer fast: its own client, no retries, a short timeout.
_readiness_client = redis.Redis.from_url(
    pipeline.redis_url, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
)


def _redis_answers() -> None:
    _readiness_client.ping()


def routes(config: Config) -> dict[str, Any]:
    urls = PublicUrls(config.public_base_url)
    upload = resources.UploadResource(config, Layout(config.data_dir).inputs, Submissions(urls))
    return {
        "/upload": upload,
        "/upload/": upload,
        "/status/{request_id}": resources.StatusResource(urls),
        "/healthz": resources.HealthResource(),
        "/readyz": resources.ReadyResource(
            {"redis": _redis_answers, "database": _database_answers}
        ),
        "/metrics": resources.MetricsResource(_queue_depths),
        "/openapi.json": resources.OpenApiResource(document(config)),
    }


def create_app(config: Config) -> falcon.App:
    app = falcon.App(middleware=[HttpMetrics()])
    errors.install(app)
    for path, resource in routes(config).items():
        app.add_route(path, resource)
    layout = Layout(config.data_dir)
    layout.create()
    for prefix, folder in zip(
        STATIC_PREFIXES, (layout.output_csvs, layout.reports, layout.images), strict=True
    ):
        app.add_static_route(prefix, str(folder))
    return app


def get_app() -> falcon.App:
    """What gunicorn runs (`svc.app:get_app()`)."""
    return create_app(load_config())
