"""The completion counter counts each image once and lets exactly one caller see zero."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

from storage.counters import TOUCH_EVERY_SECONDS, CompletionCounter


def test_each_image_counts_once_and_the_last_one_sees_zero(pipeline) -> None:
    # Given a job of three images
    counter, job = CompletionCounter(pipeline.client), secrets.token_hex(8)
    counter.start(job, 3)
    # When image 1 is counted twice (a redelivery) and then images 2 and 3
    first, again = counter.count(job, 1), counter.count(job, 1)
    second, third = counter.count(job, 2), counter.count(job, 3)
    # Then the repeat moved nothing and only the third saw the job done
    assert (first.first_time, first.remaining) == (True, 2)
    assert (again.first_time, again.remaining) == (False, 2)
    assert not second.job_done and third.job_done and third.first_time


def test_a_restarted_split_does_not_reset_a_running_count(pipeline) -> None:
    counter, job = CompletionCounter(pipeline.client), secrets.token_hex(8)
    counter.start(job, 2)
    counter.count(job, 1)
    counter.start(job, 2)  # the split message, redelivered
    assert counter.count(job, 2).job_done


def test_concurrent_counting_has_exactly_one_winner(pipeline) -> None:
    # Given 200 images counted from 8 threads, each image delivered twice
    counter, job = CompletionCounter(pipeline.client), secrets.token_hex(8)
    counter.start(job, 200)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda n: counter.count(job, n % 200), range(400)))
    # Then 200 calls moved the counter and exactly one of them emptied it
    assert sum(r.first_time for r in results) == 200
    assert sum(r.first_time and r.job_done for r in results) == 1


def test_progress_is_noted_at_most_once_a_second_per_job(pipeline) -> None:
    # Given a job touched at t=100 (times are given: the counter never reads the clock)
    counter = CompletionCounter(pipeline.client)
    job, other = secrets.token_hex(8), secrets.token_hex(8)
    counter.touch(job, 100.0)
    # When its images start again within the second, and once after it
    counter.touch(job, 100.0 + TOUCH_EVERY_SECONDS / 2)
    assert counter.touched_at(job) == 100.0
    counter.touch(job, 100.0 + TOUCH_EVERY_SECONDS)
    counter.touch(other, 100.2)
    # Then the later touch is seen, and each job has its own
    assert counter.touched_at(job) == 100.0 + TOUCH_EVERY_SECONDS
    assert counter.touched_at(other) == 100.2


def test_a_restart_counts_the_pending_images_not_counted_yet(pipeline) -> None:
    # Given a job of 100,000 images whose count is wrong, two of its pending images counted
    counter, job = CompletionCounter(pipeline.client), secrets.token_hex(8)
    counter.start(job, 7)
    pending = [0, 9, 4_096, 70_001, 99_999]
    counter.count(job, 9)
    counter.count(job, 99_999)
    counter.count(job, 12)  # settled in the database: not among the pending any more
    # When the count is rebuilt from the database's pending images
    remaining = counter.restart(job, iter(pending))
    # Then it holds the three pending images not counted yet, and the last of them ends it
    assert remaining == 3
    assert [counter.count(job, n).remaining for n in (0, 9, 4_096)] == [2, 2, 1]
    assert counter.count(job, 70_001).job_done


def test_a_restart_after_redis_lost_the_counted_images_counts_every_pending_one(pipeline) -> None:
    counter, job = CompletionCounter(pipeline.client), secrets.token_hex(8)
    assert counter.restart(job, range(3, 8)) == 5
    assert counter.restart(job, []) == 0 and counter.exists(job)
