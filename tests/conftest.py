"""Real parts for the whole suite: an embedded Redis, a database, a Dramatiq worker, origins.

The suite is an entry point like the API or a worker: it sets the environment, then wires
this process from it (actors.pipeline.start) before any test module is collected, because
test modules import actor modules, and Dramatiq declares an actor against the broker when its
module is imported.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

TEST_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SESSION_DIR = Path(tempfile.mkdtemp(prefix="imgpress-tests-"))

os.environ.update(
    {
        "IMGPRESS_DATA_DIR": str(SESSION_DIR / "var"),
        "IMGPRESS_ALLOW_PRIVATE_URLS": "1",
        "IMGPRESS_WEBHOOK_SECRET": TEST_SECRET,
        "IMGPRESS_WEBHOOK_RETRY_DELAYS": "0.2,0.4",
        "IMGPRESS_FETCH_RETRIES": "1",
        "IMGPRESS_FETCH_TIMEOUT": "10",
        "IMGPRESS_SUBSCRIBERS": "tests.recording_subscriber",
        "IMGPRESS_PUBLIC_BASE_URL": "http://testserver",
    }
)
os.environ.pop("IMGPRESS_DATABASE_URL", None)  # the in-process suite runs on SQLite

from actors import pipeline as _pipeline  # noqa: E402  (wired from the environment above)
from ops.config import load as _load_config  # noqa: E402

RUNTIME = _pipeline.start(_load_config())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from ops import embedded

    embedded.stop(SESSION_DIR / "var")
    shutil.rmtree(SESSION_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def pipeline():
    """This process's Runtime (broker, database, every actor); queues start empty."""
    RUNTIME.broker.flush_all()
    return RUNTIME


@pytest.fixture(scope="session")
def worker(pipeline) -> Iterator[object]:
    """A real Dramatiq worker (threads in this process) consuming the real Redis queues."""
    import dramatiq

    running = dramatiq.Worker(pipeline.broker, worker_threads=4, worker_timeout=100)
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def origin() -> Iterator[object]:
    """A loopback origin serving the real photographs at /photos/<name>, and a 404."""
    from tests.images import list_photos, photo_bytes
    from tests.origin import Origin

    with Origin() as running:
        for name in list_photos():
            kind = "image/png" if name.endswith(".png") else "image/jpeg"
            running.serve(f"/photos/{name}", photo_bytes(name), kind)
        running.answer("/missing.jpg", 404)
        yield running
