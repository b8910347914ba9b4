"""The multiprocess metrics folder: real processes write it, dead ones' files are folded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector

from ops import embedded, metric_files
from tests.e2e.service import imgpress, service_env
from tests.receiver import poll

# A process that counts, then exits: what a stopped worker leaves in the folder.
_COUNT_AND_EXIT = """
import os
from prometheus_client import Counter, Histogram
Counter("imgpress_images_total", "Images", ["outcome"]).labels("ok").inc(3)
Histogram("imgpress_image_process_seconds", "Time").observe(0.2)
print(os.getpid())
"""


def _count_in(folder: Path) -> int:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    done = subprocess.run(
        [sys.executable, "-c", _COUNT_AND_EXIT], env=env, capture_output=True, text=True
    )
    return int(done.stdout)


def _scrape(folder: Path) -> list[str]:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(folder))
    return sorted(generate_latest(registry).decode().splitlines())


def test_files_of_dead_processes_fold_into_the_totals(tmp_path: Path) -> None:
    # Given a folder with the files of two processes that have exited
    dead = [_count_in(tmp_path), _count_in(tmp_path)]
    before = _scrape(tmp_path)

    # When it is tidied (twice: as `serve` and then `worker` start)
    metric_files.tidy(tmp_path)
    metric_files.tidy(tmp_path)

    # Then no file of theirs is left, and a scrape reads the same totals
    assert not [path for path in tmp_path.glob("*.db") if any(str(p) in path.name for p in dead)]
    assert _scrape(tmp_path) == before
    assert 'imgpress_images_total{outcome="ok"} 6.0' in before


def test_a_live_processs_files_are_left_alone(tmp_path: Path) -> None:
    # Given a file named for a process that is running (this one)
    own = tmp_path / f"counter_{os.getpid()}.db"
    values = MmapedDict(str(own))
    values.write_value('["imgpress_jobs_total", "imgpress_jobs_total", {}, "Jobs"]', 1.0, 0.0)
    values.close()

    # When the folder is tidied, Then it is still there
    metric_files.tidy(tmp_path)
    assert own.exists()


def _live_workers(folder: Path) -> set[int]:
    """Pids whose live gauge says a worker process runs there."""
    live = set()
    for path in folder.glob("gauge_livesum_*.db"):
        try:
            values = MmapedDict.read_all_values_from_file(str(path))
        except FileNotFoundError:
            continue  # marked dead meanwhile
        if any("imgpress_worker_processes" in key and value == 1 for key, value, *_ in values):
            live.add(int(path.stem.rsplit("_", 1)[1]))
    return live


def test_a_worker_process_marks_itself_dead_and_start_up_folds_dead_files(
    tmp_path: Path,
) -> None:
    # Given a data dir whose metrics folder holds the files of a process that has exited
    data_dir = tmp_path / "var"
    folder = data_dir / "metrics"
    folder.mkdir(parents=True)
    dead = _count_in(folder)
    env = service_env(data_dir, port=8000)

    # When a real worker starts
    worker = subprocess.Popen(
        imgpress("worker", "--processes", "1", "--threads", "1"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "worker.log", "wb"),  # noqa: SIM115
        start_new_session=True,
    )
    try:
        live = poll(lambda: _live_workers(folder), timeout=60, every=0.05)

        # Then the dead process's files were folded away as it started
        assert not list(folder.glob(f"*_{dead}.db"))
        assert list(folder.glob("counter_archive.db"))

        # And when it stops, its worker process's live gauge goes with it
        worker.send_signal(signal.SIGTERM)  # Dramatiq's main process passes it on, once
        assert worker.wait(timeout=60) == 0
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        embedded.stop(data_dir)
    assert _live_workers(folder) == set()
    assert not [pid for pid in live if list(folder.glob(f"gauge_live*_{pid}.db"))]
