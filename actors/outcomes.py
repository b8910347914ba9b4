"""How a finished image becomes a job-level fact: recorded once with its event, counted once,
its dispatch credit returned (which sends the job's next images), and the count that reaches
zero sends the job to finish_job."""

from __future__ import annotations

from actors import events, runtime
from actors.dispatch import refill
from actors.finish_job import finish_job
from actors.happenings import Event
from ops import metrics
from ops.crashpoints import crash_point
from storage import images
from storage.vocabulary import FailureReason, ImageStatus


def settle(job_id: str, image_id: int, index: int, outcome: images.Outcome, event: Event) -> None:
    """Record, count and announce one image; the call that empties the counter ends the job."""
    staged = images.record_outcome(image_id, outcome, events.publication(event))
    if staged is not None:
        measure(outcome)
        crash_point("image.committed")
        events.send(staged)
    # Counted even when the record was already there: a delivery that crashed between
    # recording and counting is finished by its redelivery.
    count(job_id, image_id, index)
    crash_point("image.counted")


def count(job_id: str, image_id: int, index: int) -> None:
    """Count one image and return its credit (both idempotent); when none remain, hand the
    job to finish_job, else send the job's next images."""
    if runtime.current().counter.count(job_id, index).job_done:
        crash_point("job.counted")
        finish_job.send(job_id)
    else:
        refill(job_id, f"image:{index}", returned=index)


def measure(outcome: images.Outcome) -> None:
    metrics.IMAGES.labels(outcome.status).inc()
    if outcome.status == ImageStatus.OK:
        metrics.INPUT_BYTES.inc(outcome.input_bytes or 0)
        metrics.OUTPUT_BYTES.inc(outcome.output_bytes or 0)
    else:
        reason = (outcome.error or FailureReason.INTERNAL_ERROR).split(":")[0]
        metrics.IMAGE_FAILURES.labels(reason).inc()
