"""The watchdog: a job stuck for a reason nobody foresaw still ends, and a count Redis lost
is rebuilt from the database.

Messages can be lost where no retry reaches them: a Redis without persistence restarted, a
queue flushed by hand, a bug. Every worker process runs this sweep on a timer; a Redis key
lets one of them do it per period. A job is stuck when none of its images started or finished
for IMGPRESS_JOB_DEADLINE, however busy the queues are with other jobs' work (contract §10).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import redis

from actors import runtime
from actors.errors import PermanentFailure
from actors.finish_job import fail_job, finish_job, recover_pending
from actors.happenings import ImageFailed
from actors.outcomes import settle
from actors.timer import PeriodicThread
from ops.config import Config
from storage import jobs
from storage.images import Outcome
from storage.pending import pending_of
from storage.sessions import now
from storage.stalled import Stalled, processing_jobs, stalled_jobs
from storage.vocabulary import FailureReason, ImageStatus, JobStatus

log = logging.getLogger("imgpress.watchdog")


def _give_up_images(stalled: Stalled, deadline: float) -> None:
    seconds = int(deadline)
    failure = PermanentFailure(
        FailureReason.TIMEOUT, f"no progress for {seconds} s: ended by the watchdog"
    )
    outcome = Outcome(ImageStatus.FAILED, error=failure.report_text)
    for image in stalled.pending_images:
        event = ImageFailed(stalled.job_id, image.id, image.url, failure.reason, failure.message)
        settle(stalled.job_id, image.id, image.index, outcome, event)
    # The counter may be what was lost: finish_job is idempotent, so send it regardless.
    finish_job.send(stalled.job_id)


def _recently_active(job_id: str, deadline: float) -> bool:
    started = runtime.current().counter.touched_at(job_id)
    return started is not None and time.time() - started < deadline


def recover_lost_counts() -> int:
    """Processing jobs whose count Redis no longer has: rebuilt, their pending images resent."""
    recovered = 0
    for job_id in processing_jobs():
        if runtime.current().counter.exists(job_id):
            continue
        job = jobs.get_job(job_id)
        if job is None or job.status != JobStatus.PROCESSING:
            continue
        log.warning("job %s lost its count in Redis: rebuilding it from the database", job_id)
        recover_pending(job_id, pending_of(job_id))
        recovered += 1
    return recovered


def sweep(deadline: float | None = None) -> int:
    """End every job quiet for `deadline` seconds (IMGPRESS_JOB_DEADLINE); how many it ended."""
    deadline = runtime.current().config.job_deadline if deadline is None else deadline
    recover_lost_counts()
    stalled = [
        job
        for job in stalled_jobs(now() - timedelta(seconds=deadline))
        if not _recently_active(job.job_id, deadline)
    ]
    for job in stalled:
        log.warning("job %s made no progress for %s s: ending it", job.job_id, deadline)
        if job.status == JobStatus.PENDING:
            fail_job(
                job.job_id, f"the job never started: its CSV was not split within {deadline:g} s"
            )
        elif not job.all_created:  # finish_job waits for the split, which is gone
            fail_job(job.job_id, f"its CSV was not split to its end within {deadline:g} s")
        else:
            _give_up_images(job, deadline)
    return len(stalled)


class Watchdog(PeriodicThread):
    """Runs `sweep` every period in a thread of each worker process, one process at a time."""

    name = "watchdog"

    def __init__(self, config: Config, client: redis.Redis) -> None:
        super().__init__(max(1.0, min(config.job_deadline / 4, 60.0)), client)

    def tick(self) -> None:
        sweep()
