"""The compressing threads take each job's work in turn; within a job, in order."""

from __future__ import annotations

import threading

import pytest

from actors.fair_pool import FairPool


def _held(pool: FairPool) -> threading.Event:
    """The pool's one thread kept busy until the returned event is set."""
    gate, running = threading.Event(), threading.Event()

    def hold() -> None:
        running.set()
        gate.wait()

    pool.submit("holder", hold)
    running.wait()
    return gate


def test_a_small_job_waits_for_one_turn_of_a_large_job_not_for_all_of_it() -> None:
    # Given one thread, busy, and a large job with 5 images waiting before a small job's 2
    pool, done, lock = FairPool(1, name="test"), [], threading.Lock()
    gate = _held(pool)

    def work(label: str) -> str:
        with lock:
            done.append(label)
        return label

    futures = [pool.submit("large", work, f"L{n}") for n in range(5)]
    futures += [pool.submit("small", work, f"S{n}") for n in range(2)]
    # When the thread is free again
    gate.set()
    results = [future.result(timeout=30) for future in futures]
    # Then the jobs took turns, each in its own order, and every future has its result
    assert done == ["L0", "S0", "L1", "S1", "L2", "L3", "L4"]
    assert results == [f"L{n}" for n in range(5)] + ["S0", "S1"]


def test_an_error_reaches_the_caller_and_the_pool_goes_on() -> None:
    pool = FairPool(1, name="test")

    def fail() -> None:
        raise ValueError("not an image")

    with pytest.raises(ValueError, match="not an image"):
        pool.submit("job", fail).result(timeout=30)
    assert pool.submit("job", lambda: 42).result(timeout=30) == 42
