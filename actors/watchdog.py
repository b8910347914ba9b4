"""The watchdog: a job stuck for a reason nobody foresaw still ends.

Messages can be lost where no retry reaches them: a Redis without persistence restarted, a
queue flushed by hand, a bug. Every worker process runs this sweep on a timer; a Redis key
lets one of them do it per period. A job counts as stuck when nothing happened in it for
IMGPRESS_JOB_DEADLINE and no work is queued, so a job merely waiting its turn is left alone.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import dramatiq

from actors.broker import broker, client, config
from actors.errors import PermanentFailure
from actors.finish_job import fail_job, finish_job
from actors.happenings import ImageFailed
from actors.outcomes import settle
from storage.images import Outcome
from storage.sessions import now
from storage.stalled import Stalled, stalled_jobs

log = logging.getLogger("imgpress.watchdog")
_WATCHED_QUEUES = ("default", "images")


def queues_idle() -> bool:
    """No message waiting, ready or delayed (retries), in the queues that move a job."""
    names = [f"{broker.namespace}:{q}{suffix}" for q in _WATCHED_QUEUES for suffix in ("", ".DQ")]
    return all(client.llen(name) == 0 for name in names)


def _give_up_images(stalled: Stalled, deadline: float) -> None:
    seconds = int(deadline)
    failure = PermanentFailure("timeout", f"no progress for {seconds} s: ended by the watchdog")
    for image in stalled.pending_images:
        event = ImageFailed(stalled.job_id, image.id, image.url, failure.reason, failure.message)
        settle(stalled.job_id, image.id, Outcome("failed", error=failure.report_text), event)
    # The counter may be what was lost: finish_job is idempotent, so send it regardless.
    finish_job.send(stalled.job_id)


def sweep(deadline: float | None = None) -> int:
    """End every job quiet for `deadline` seconds (IMGPRESS_JOB_DEADLINE); how many it ended."""
    deadline = config.job_deadline if deadline is None else deadline
    if not queues_idle():
        return 0
    stalled = stalled_jobs(now() - timedelta(seconds=deadline))
    for job in stalled:
        log.warning("job %s made no progress for %s s: ending it", job.job_id, deadline)
        if job.status == "pending":
            fail_job(job.job_id, "the job never started: its csv.received event was lost")
        else:
            _give_up_images(job, deadline)
    return len(stalled)


class Watchdog(dramatiq.Middleware):
    """Runs `sweep` every period in a thread of each worker process, one process at a time."""

    def __init__(self) -> None:
        self.period = max(1.0, min(config.job_deadline / 4, 60.0))
        self._stop = threading.Event()

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        threading.Thread(target=self._run, name="imgpress-watchdog", daemon=True).start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            if client.set("imgpress:watchdog", "1", nx=True, px=int(self.period * 1000)):
                try:
                    sweep()
                except Exception:  # the next period tries again; never kill the thread
                    log.exception("watchdog sweep failed")
