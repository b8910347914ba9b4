"""How a finished image becomes a job-level fact: recorded once with its event, counted once,
and the count that reaches zero sends the job to finish_job."""

from __future__ import annotations

from actors import events
from actors.finish_job import finish_job
from actors.happenings import Event
from actors.runtime import counter
from ops import metrics
from ops.crashpoints import crash_point
from storage import images
from storage.vocabulary import FailureReason, ImageStatus


def settle(job_id: str, image_id: int, outcome: images.Outcome, event: Event) -> None:
    """Record, count and announce one image; the call that empties the counter ends the job."""
    staged = images.record_outcome(image_id, outcome, events.publication(event))
    if staged is not None:
        measure(outcome)
        crash_point("image.committed")
        events.send(staged)
    # Counted even when the record was already there: a delivery that crashed between
    # recording and counting is finished by its redelivery.
    count(job_id, image_id)


def count(job_id: str, image_id: int) -> None:
    """Count one image (idempotent); when none remain, hand the job to finish_job."""
    if counter.count(job_id, image_id).job_done:
        crash_point("job.counted")
        finish_job.send(job_id)


def measure(outcome: images.Outcome) -> None:
    metrics.IMAGES.labels(outcome.status).inc()
    if outcome.status == ImageStatus.OK:
        metrics.INPUT_BYTES.inc(outcome.input_bytes or 0)
        metrics.OUTPUT_BYTES.inc(outcome.output_bytes or 0)
    else:
        reason = (outcome.error or FailureReason.INTERNAL_ERROR).split(":")[0]
        metrics.IMAGE_FAILURES.labels(reason).inc()
