"""Every metric of the service, in one place, shared across processes.

prometheus_client's multiprocess mode keeps each process's figures in files under one folder,
so a single scrape of the API shows the workers too. The folder must be known before
prometheus_client is imported, which is why this module sets it and is imported first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping

from ops import config as config_module

_config = config_module.load()
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    _config.metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_config.metrics_dir)

import dramatiq  # noqa: E402
from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily  # noqa: E402
from prometheus_client.registry import Collector  # noqa: E402

CONTENT_TYPE = CONTENT_TYPE_LATEST

JOBS = Counter("imgpress_jobs_total", "Jobs that ended, by final status", ["status"])
IMAGES = Counter("imgpress_images_total", "Images that finished, by outcome", ["outcome"])
IMAGE_FAILURES = Counter(
    "imgpress_image_failures_total",
    "Failed images, by reason from the fixed vocabulary",
    ["reason"],
)
INPUT_BYTES = Counter("imgpress_image_input_bytes_total", "Bytes downloaded for images")
OUTPUT_BYTES = Counter("imgpress_image_output_bytes_total", "Bytes written as output images")
PROCESS_SECONDS = Histogram(
    "imgpress_image_process_seconds",
    "Time to fetch, compress and store one image",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
HTTP_REQUESTS = Counter(
    "imgpress_http_requests_total", "HTTP requests answered", ["route", "method", "status"]
)
HTTP_SECONDS = Histogram(
    "imgpress_http_request_duration_seconds", "Time to answer an HTTP request", ["route"]
)
WEBHOOKS = Counter(
    "imgpress_webhook_attempts_total", "Webhook POST attempts, by result", ["result"]
)

# Live processes only: a worker process marks itself dead as it stops (ProcessLife).
WORKER_PROCESSES = Gauge(
    "imgpress_worker_processes",
    "Dramatiq worker processes running",
    multiprocess_mode="livesum",
)


class ProcessLife(dramatiq.Middleware):
    """Counts the worker process in while it runs, and marks it dead as it stops.

    gunicorn's child_exit does this for the API's processes; Dramatiq's end through
    os._exit, so atexit never runs there, and this hook is the last code they run.
    """

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        WORKER_PROCESSES.set(1)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        mark_process_dead(os.getpid())


class _QueueDepth(Collector):
    """Read at scrape time: queue lengths live in Redis, not in any one process."""

    def __init__(self, read_depths: Callable[[], Mapping[str, int]]) -> None:
        self._read_depths = read_depths

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "imgpress_queue_messages", "Messages waiting in each queue", labels=["queue"]
        )
        for queue, depth in sorted(self._read_depths().items()):
            family.add_metric([queue], depth)
        yield family


def render(read_depths: Callable[[], Mapping[str, int]]) -> bytes:
    """One scrape: every process's figures plus the live queue depths."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(_QueueDepth(read_depths))
    return generate_latest(registry)


def mark_process_dead(pid: int) -> None:
    multiprocess.mark_process_dead(pid)
