"""Webhook delivery on its own schedule: signed, same id on every retry, 410 stops, state shown."""

from __future__ import annotations

import json

from actors.webhooks import verify
from storage import jobs
from tests.conftest import TEST_SECRET
from tests.jobs import submit, wait_until_announced
from tests.receiver import Receiver, poll

# conftest sets IMGPRESS_WEBHOOK_RETRY_DELAYS=0.2,0.4: three attempts at most.


def _webhook_state(job_id: str, state: str):
    def reached():
        job = jobs.get_job(job_id)
        return job.webhook if job and job.webhook and job.webhook.state == state else None

    return poll(reached)


def _one_image_job(origin, hook: str) -> str:
    return submit(f"name,url\nP,{origin.url('/photos/coffee.jpg')}\n", webhook_url=hook)


def test_a_signed_webhook_is_retried_until_delivered(origin, worker) -> None:
    # Given a receiver that fails once, then accepts
    with Receiver([503, 204]) as receiver:
        job_id = _one_image_job(origin, receiver.url)
        first, second = receiver.wait_for(2)
        hook = _webhook_state(job_id, "delivered")
    # Then both attempts carry the same id and a valid signature over the same body
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    verify(TEST_SECRET, second.headers, second.body)
    body = json.loads(second.body)
    assert (body["type"], body["request_id"], body["status"]) == (
        "job.completed",
        job_id,
        "completed",
    )
    assert body["output_csv_url"].endswith(f"/output_csv/{job_id}.csv")
    assert (hook.attempts, hook.last_status_code) == (2, 204)


def test_410_gone_stops_at_once(origin, worker, pipeline) -> None:
    with Receiver([410]) as receiver:
        job_id = _one_image_job(origin, receiver.url)
        hook = _webhook_state(job_id, "failed")
        pipeline.broker.join("webhooks")
        worker.join()
        assert len(receiver.deliveries) == 1
    assert (hook.attempts, hook.last_status_code) == (1, 410)


def test_a_dead_endpoint_gets_one_plus_len_delays_attempts(origin, worker, pipeline) -> None:
    with Receiver([500]) as receiver:
        job_id = _one_image_job(origin, receiver.url)
        hook = _webhook_state(job_id, "failed")
        assert len(receiver.wait_for(3)) == 3
    assert (hook.attempts, hook.last_status_code) == (3, 500)
    job = wait_until_announced(job_id)
    assert job.status == "completed"  # delivery never fails the job


def test_a_refused_connection_is_retried_and_recorded(origin, worker) -> None:
    with Receiver() as receiver:
        dead_url = receiver.url  # the port closes when the receiver stops
    job_id = _one_image_job(origin, dead_url)
    hook = _webhook_state(job_id, "failed")
    assert (hook.attempts, hook.last_status_code) == (3, None)
