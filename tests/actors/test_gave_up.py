"""A split or a finish that keeps raising ends its job `failed`, saying so, once every retry is
spent: Dramatiq's `on_retry_exhausted` hands the message to `split_gave_up` / `finish_gave_up`.

The failure is real: the service's own SQLite file refuses one write with a trigger, every
time, as broken storage would (an error the actors do not expect, so Dramatiq retries it).
No actor is faked; only the backoff between the retries is shortened.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from typing import Any

import dramatiq
import pytest

from actors.webhooks import verify
from storage import images, jobs
from tests.conftest import TEST_SECRET
from tests.jobs import submit, wait_until_announced
from tests.receiver import Receiver, poll
from tests.recording_subscriber import seen


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> Callable[[dramatiq.Actor[Any, Any]], None]:
    """The actor's own max_retries, with backoff in milliseconds instead of seconds (about
    30 s in all otherwise). Dramatiq's Retries middleware reads the actor's options at each
    failure, so the worker that is already running sees the change; it is undone after."""

    def shorten(actor: dramatiq.Actor[Any, Any]) -> None:
        monkeypatch.setitem(actor.options, "min_backoff", 10)
        monkeypatch.setitem(actor.options, "max_backoff", 50)

    return shorten


@contextmanager
def _database_refuses(table: str, action: str, condition: str) -> Iterator[None]:
    """A trigger on the service's database aborting `action` on `table` where `condition`."""
    from storage.db import sqlite_file

    assert sqlite_file is not None  # the in-process suite runs on SQLite
    name = f"refuse_{secrets.token_hex(4)}"
    _execute(
        sqlite_file,
        f'CREATE TRIGGER {name} BEFORE {action} ON "{table}" WHEN {condition} '
        "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    )
    try:
        yield
    finally:
        _execute(sqlite_file, f"DROP TRIGGER IF EXISTS {name}")


def _execute(database: str, statement: str) -> None:
    with closing(sqlite3.connect(database, timeout=30, isolation_level=None)) as connection:
        connection.execute(statement)


def _announcements(job_id: str) -> dict[str, set[str]]:
    """subject -> the event_ids of that subject seen for the job (duplicates folded)."""
    found: dict[str, set[str]] = {}
    for item in seen(job_id):
        found.setdefault(item["subject"], set()).add(item["event"]["event_id"])
    return found


def _ended_failed(job_id: str, receiver: Receiver) -> tuple[jobs.JobView, dict[str, Any]]:
    """The job once announced, and its webhook's body, checked to be genuine and signed."""
    job = wait_until_announced(job_id)
    [delivery] = receiver.wait_for(1)
    verify(TEST_SECRET, delivery.headers, delivery.body)
    poll(lambda: "job.failed" in _announcements(job_id))
    return job, json.loads(delivery.body)


def test_a_split_that_keeps_raising_ends_the_job_failed(worker, quick_retries) -> None:
    from actors.split_csv import split_csv

    quick_retries(split_csv)
    # Given a job one of whose images the database refuses to record, on every attempt
    refused = f"http://127.0.0.1:9/{secrets.token_hex(8)}.jpg"
    with _database_refuses("Image", "INSERT", f"NEW.url = '{refused}'"), Receiver() as receiver:
        # When it is uploaded, and the split raises until its retries are spent
        job_id = submit(f"name,url\nP1,{refused}\n", webhook_url=receiver.url)
        job, hook = _ended_failed(job_id, receiver)
    # Then the job failed, saying why, with no image recorded
    assert (job.status, job.error) == ("failed", "the uploaded CSV could not be split into images")
    assert images.images_of(job_id) == []
    # And job.failed was announced once (one event_id), never job.completed
    announced = _announcements(job_id)
    assert len(announced["job.failed"]) == 1 and "job.completed" not in announced
    # And the webhook says so (contract §5)
    assert (hook["type"], hook["status"], hook["output_csv_url"]) == ("job.failed", "failed", None)
    assert (hook["total_images"], hook["processed_images"], hook["failed_images"]) == (1, 0, 0)


def test_a_finish_that_keeps_raising_ends_the_job_failed(worker, quick_retries) -> None:
    from actors.finish_job import finish_job

    quick_retries(finish_job)
    # Given a job whose completion the database refuses to record, on every attempt (its one
    # image is an invalid URL, failed at the split, so finish_job runs straight away)
    marker = f"not-a-url-{secrets.token_hex(8)}"
    its_image = f"SELECT 1 FROM Image WHERE Image.job = NEW.id AND Image.url = '{marker}'"
    completes_it = f"NEW.status = 'completed' AND EXISTS ({its_image})"
    with _database_refuses("Job", "UPDATE OF status", completes_it), Receiver() as receiver:
        # When it is uploaded, and finish_job raises until its retries are spent
        job_id = submit(f"name,url\nP1,{marker}\n", webhook_url=receiver.url)
        job, hook = _ended_failed(job_id, receiver)
    # Then the job failed, saying why, its image counted as failed
    assert (job.status, job.error) == ("failed", "the output CSV and report could not be written")
    assert (job.processed_images, job.failed_images) == (0, 1)
    # And job.failed was announced once (one event_id), never job.completed
    announced = _announcements(job_id)
    assert len(announced["job.failed"]) == 1 and "job.completed" not in announced
    # And the webhook says so, without outputs (contract §3: none unless completed)
    assert (hook["type"], hook["status"]) == ("job.failed", "failed")
    assert (hook["output_csv_url"], hook["report_url"], hook["failed_images"]) == (None, None, 1)
