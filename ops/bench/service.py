"""The service as users start it: `imgpress serve` and `imgpress worker` as subprocesses.

Each goal starts its own service on a fresh data dir under var/bench/data/ (SQLite and the
embedded Redis in it), talks to it over 127.0.0.1 only, and stops it, the embedded Redis
included, whatever happens. Logs stay in var/bench/logs/ for a look afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from types import TracebackType
from typing import Any

import urllib3

from ops import cli, embedded
from ops.bench import BENCH_DIR, ROOT, procs
from storage.vocabulary import FINAL_STATUSES, JobStatus

API_WORKERS = 2
WORKER_PROCESSES = 2
# Set here, or dropped so that the defaults users get apply: embedded Redis, SQLite, metrics
# under the data dir. Any other IMGPRESS_* setting of the shell is passed on (and printed).
SET_BY_SERVICE = frozenset(
    {
        "IMGPRESS_DATA_DIR",
        "IMGPRESS_ALLOW_PRIVATE_URLS",
        "IMGPRESS_PUBLIC_BASE_URL",
        "IMGPRESS_REDIS_URL",
        "IMGPRESS_DATABASE_URL",
        "PROMETHEUS_MULTIPROC_DIR",
    }
)
_READY_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 30.0


def default_worker_threads() -> int:
    """`imgpress worker`'s own default, read from its parser: the bench follows it if it moves."""
    return int(cli._parser().parse_args(["worker"]).threads)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServiceError(RuntimeError):
    """Raised when the service does not start, or answers something the benchmark cannot use."""


class Service:
    """API (gunicorn) and optionally the worker (Dramatiq), on a data dir of their own."""

    def __init__(self, name: str, worker_threads: int | None = None, keep: bool = False) -> None:
        self.name = name
        self.data_dir = BENCH_DIR / "data" / name
        self.log_dir = BENCH_DIR / "logs"
        self.port = free_port()
        self.worker_threads = worker_threads  # None: the service's default (not passed)
        self.keep = keep
        self.http = urllib3.PoolManager(
            retries=False, timeout=urllib3.Timeout(connect=5, read=120), maxsize=4
        )
        self.api: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def threads_used(self) -> int:
        return self.worker_threads or default_worker_threads()

    # Life cycle

    def __enter__(self) -> Service:
        shutil.rmtree(self.data_dir, ignore_errors=True)  # fresh: no job, queue or counter left
        self.data_dir.mkdir(parents=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, with_worker: bool = True) -> Service:
        self.api = self._spawn(
            "api", "serve", "--port", str(self.port), "--workers", str(API_WORKERS)
        )
        if with_worker:
            self.start_worker()
        self._wait_ready()
        return self

    def start_worker(self) -> None:
        args = ["worker", "--processes", str(WORKER_PROCESSES)]
        if self.worker_threads is not None:
            args += ["--threads", str(self.worker_threads)]
        self.worker = self._spawn("worker", *args)

    def stop_worker(self) -> None:
        if self.worker is not None:
            _terminate(self.worker)
            self.worker = None

    def stop(self) -> None:
        try:
            self.stop_worker()
            if self.api is not None:
                _terminate(self.api)
                self.api = None
        finally:
            embedded.stop(self.data_dir)  # daemonized: not in our process groups
            self.http.clear()
            if not self.keep:
                shutil.rmtree(self.data_dir, ignore_errors=True)

    def _env(self) -> dict[str, str]:
        return {
            **{name: value for name, value in os.environ.items() if name not in SET_BY_SERVICE},
            "IMGPRESS_DATA_DIR": str(self.data_dir),
            "IMGPRESS_ALLOW_PRIVATE_URLS": "1",  # the origin is on loopback
            "IMGPRESS_PUBLIC_BASE_URL": self.base,
        }

    def _spawn(self, role: str, *args: str) -> subprocess.Popen[bytes]:
        with open(self.log_dir / f"{self.name}-{role}.log", "wb") as log:
            # A session of its own: stopping kills the command with every process it forked.
            return subprocess.Popen(
                [sys.executable, "-m", "ops.cli", *args],
                env=self._env(),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            self.check_alive()
            if self._answers("/readyz"):
                return
            time.sleep(0.1)
        raise ServiceError(
            f"{self.name}: not ready after {_READY_TIMEOUT_S:g} s; see {self.log_dir}"
        )

    def check_alive(self) -> None:
        for role, process in (("api", self.api), ("worker", self.worker)):
            if process is not None and process.poll() is not None:
                raise ServiceError(f"{self.name}: the {role} exited; see {self.log_dir}")

    def _answers(self, path: str) -> bool:
        try:
            return self.http.request("GET", self.base + path, timeout=2).status == 200
        except urllib3.exceptions.HTTPError:
            return False

    def pids(self) -> list[int]:
        """Every process of the service: API and workers with their children, and Redis."""
        found = [pid for p in (self.api, self.worker) if p is not None for pid in procs.tree(p.pid)]
        redis = self.redis_pid()
        return found if redis is None else [*found, redis]

    def redis_pid(self) -> int | None:
        """The embedded Redis server's process (daemonized: in neither process tree)."""
        with contextlib.suppress(OSError, ValueError):
            return int((self.data_dir / "redis" / "redis.pid").read_text().strip())
        return None

    # Requests

    def get_json(self, path: str) -> dict[str, Any]:
        answer = self.http.request("GET", self.base + path)
        if answer.status != 200:
            raise ServiceError(f"GET {path} answered {answer.status}: {answer.data[:200]!r}")
        return dict(json.loads(answer.data))

    def post_upload(self, body: bytes, content_type: str) -> tuple[int, dict[str, Any], float]:
        """POST /upload with a body made beforehand; the status, the JSON and the seconds taken."""
        started = time.perf_counter()
        answer = self.http.request(
            "POST", self.base + "/upload", body=body, headers={"Content-Type": content_type}
        )
        seconds = time.perf_counter() - started
        return answer.status, dict(json.loads(answer.data)), seconds

    def upload(self, csv_data: bytes, **fields: str) -> str:
        """Upload a CSV that must be accepted; its request_id."""
        status, answer, _ = self.post_upload(*multipart(csv_data, **fields))
        if status != 202:
            raise ServiceError(f"upload answered {status}: {answer}")
        return str(answer["request_id"])

    def wait_done(self, request_id: str, timeout: float, every: float = 0.05) -> dict[str, Any]:
        """Poll /status every `every` s until the job is final; its last status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.get_json(f"/status/{request_id}")
            if status["status"] in FINAL_STATUSES:
                return status
            self.check_alive()
            time.sleep(every)
        raise ServiceError(f"{self.name}: job {request_id} not done after {timeout:g} s")

    def run_job(
        self, csv_data: bytes, timeout: float, **fields: str
    ) -> tuple[dict[str, Any], float]:
        """Upload, wait until completed; the final status and the seconds from POST to done."""
        started = time.perf_counter()
        status = self.wait_done(self.upload(csv_data, **fields), timeout)
        seconds = time.perf_counter() - started
        if status["status"] != JobStatus.COMPLETED or status["failed_images"]:
            raise ServiceError(f"{self.name}: the job did not complete cleanly: {status}")
        return status, seconds


def multipart(csv_data: bytes, **fields: str) -> tuple[bytes, str]:
    parts: list[tuple[str, Any]] = [
        *fields.items(),
        ("file", ("products.csv", csv_data, "text/csv")),
    ]
    return urllib3.encode_multipart_formdata(parts)


def image_csv(urls: list[str]) -> bytes:
    """The contract's CSV: one product per image URL."""
    lines = ["S. No,Product Name,Input URLs"]
    lines += [f"{n + 1},SKU{n + 1:06d},{url}" for n, url in enumerate(urls)]
    return ("\n".join(lines) + "\n").encode()


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the command's whole session, then SIGKILL it if it does not end in time."""
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait(timeout=_STOP_TIMEOUT_S)
    _signal_group(process, signal.SIGKILL)  # a child left behind by its exited parent


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(process.pid, signum)
