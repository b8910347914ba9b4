"""`imgpress up`: the whole service from one command, and all of it gone after SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess

import pytest

from ops import embedded
from tests.e2e.service import ROOT, Service, imgpress
from tests.e2e.test_service import post_csv, wait_completed
from tests.receiver import poll

pytestmark = pytest.mark.slow


def _port_closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_up_runs_a_job_and_stops_everything_on_sigterm(tmp_path, origin) -> None:
    # Given `imgpress up` on a fresh data dir (a Service object only to borrow its helpers)
    service = Service(tmp_path / "var")
    command = imgpress("up", "--port", str(service.port), "--processes", "1", "--threads", "2")
    up = subprocess.Popen(command, env=service.env, cwd=ROOT)
    try:
        poll(service._ready, timeout=60, every=0.1)
        # When a job runs through it
        accepted = post_csv(service, f"name,url\nA,{origin.url('/photos/coffee.jpg')}\n")
        assert wait_completed(service, accepted["status_url"])["status"] == "completed"
        assert embedded.is_running(service.data_dir)
    finally:
        # And it is asked to stop
        up.send_signal(signal.SIGTERM)
        code = up.wait(timeout=60)
    # Then it exits cleanly, the API is gone and so is the embedded Redis it started
    assert code == 0
    assert _port_closed(service.port)
    assert not embedded.is_running(service.data_dir)
