"""The service as users start it: `imgpress serve` (gunicorn) and `imgpress worker` (Dramatiq)
as separate processes sharing the embedded Redis of their data dir."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import urllib3

from ops import embedded
from tests.receiver import poll

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def service_env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "IMGPRESS_DATA_DIR": str(data_dir),
        "IMGPRESS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "PYTHONPATH": str(ROOT),  # so the worker can import tests.recording_subscriber
        **extra,
    }
    # Each service has its own metrics folder (under its data dir) and its own Redis.
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("IMGPRESS_REDIS_URL", None)
    return env


def imgpress(*args: str) -> list[str]:
    return [sys.executable, "-m", "ops.cli", *args]


class Service:
    def __init__(self, data_dir: Path, *, worker: bool = True, **env: str) -> None:
        self.data_dir = data_dir
        self.worker = worker  # False: the API alone, so no job is ever worked on
        self.port = free_port()
        self.env = service_env(data_dir, self.port, **env)
        self.http = urllib3.PoolManager(retries=False, timeout=30)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_worker(self, processes: int = 1, threads: int = 4, **env: str) -> None:
        self.processes["worker"] = self._spawn(
            "worker", "--processes", str(processes), "--threads", str(threads), **env
        )

    def wait_worker_exit(self, timeout: float = 120) -> int:
        """Wait for the worker to end by itself (a crash point killed it); its exit code."""
        worker = self.processes.pop("worker")
        return worker.wait(timeout=timeout)

    def start(self) -> Service:
        self.processes["api"] = self._spawn("serve", "--port", str(self.port), "--workers", "2")
        if self.worker:
            self.start_worker()
        poll(self._ready, timeout=60, every=0.1)
        return self

    def _spawn(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = open(self.data_dir.parent / f"{args[0]}.log", "ab")  # noqa: SIM115
        # A session of its own, so that a test can kill a command with all its children.
        return subprocess.Popen(
            imgpress(*args),
            env={**self.env, **env},
            cwd=ROOT,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    def kill_worker(self) -> None:
        """SIGKILL the worker and its processes, as a machine crash would."""
        worker = self.processes.pop("worker")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)

    def _ready(self) -> bool:
        try:
            return self.get("/readyz").status == 200
        except urllib3.exceptions.HTTPError:
            return False

    def get(self, path: str) -> urllib3.BaseHTTPResponse:
        return self.http.request("GET", path if path.startswith("http") else self.base + path)

    def stop(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        embedded.stop(self.data_dir)

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
