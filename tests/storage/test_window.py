"""The dispatch window's rules, on the real Redis: never more than W out, every image sent,
no second credit for a redelivery, and a grant whose sender died is sent again."""

from __future__ import annotations

import random
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

from storage.window import DispatchWindow, Grant


def _job() -> str:
    return secrets.token_hex(8)


def _filled(pipeline, size: int, batch: int, images: int = 100) -> tuple[DispatchWindow, str]:
    """A window over a new job of `images`, its first range taken and sent, as the split does."""
    window, job = DispatchWindow(pipeline.client, size, batch=batch), _job()
    window.open(job, images)
    window.sent(job, window.refill(job, "split"))
    return window, job


def _indexes(grant: Grant) -> list[int]:
    return list(range(grant.start, grant.end))


def test_the_first_fill_takes_the_window_and_no_more(pipeline) -> None:
    window, job = DispatchWindow(pipeline.client, 8, batch=2), _job()
    window.open(job, 100)
    first = window.refill(job, "split")
    window.sent(job, first)
    assert (first.start, first.end) == (0, 8)
    assert len(window.refill(job, "split-again")) == 0  # full: nothing more
    assert window.in_flight(job) == 8


def test_credits_come_back_a_batch_at_a_time_in_index_order(pipeline) -> None:
    window, job = _filled(pipeline, 8, 2)
    one = window.refill(job, "image:0", returned=0)
    two = window.refill(job, "image:1", returned=1)
    assert len(one) == 0  # one credit free: less than a batch
    assert (two.start, two.end) == (8, 10)


def test_a_redelivered_settlement_takes_no_second_credit(pipeline) -> None:
    window, job = _filled(pipeline, 4, 1)
    first = window.refill(job, "image:0", returned=0)
    window.sent(job, first)
    again = window.refill(job, "image:0", returned=0)  # the same message, redelivered
    assert _indexes(first) == [4] and len(again) == 0
    assert window.in_flight(job) == 4


def test_a_grant_whose_sender_died_is_sent_again_to_its_redelivery(pipeline) -> None:
    window, job = _filled(pipeline, 4, 1)
    lost = window.refill(job, "image:2", returned=2)  # taken, then the process died unsent
    redelivered = window.refill(job, "image:2", returned=2)
    assert redelivered.again and _indexes(redelivered) == _indexes(lost) == [4]
    window.sent(job, redelivered)
    assert not window.refill(job, "image:2", returned=2).again
    assert window.in_flight(job) == 4


def test_the_last_images_go_out_even_below_a_batch(pipeline) -> None:
    window, job = _filled(pipeline, 4, 4, images=5)
    last = window.refill(job, "image:0", returned=0)
    assert _indexes(last) == [4]


def test_a_window_redis_lost_says_so_and_a_reset_starts_it_over(pipeline) -> None:
    window, job = DispatchWindow(pipeline.client, 4), _job()
    assert window.refill(job, "image:3", returned=3).lost
    window.reset(job, 10)
    assert _indexes(window.refill(job, "recover")) == [0, 1, 2, 3]


def test_under_concurrent_settlement_the_window_holds_and_every_image_is_sent(pipeline) -> None:
    # Given a job of 500 images, a window of 16, and 8 threads settling what is out (each
    # message delivered twice now and then, as Dramatiq may)
    window, job, total = DispatchWindow(pipeline.client, 16, batch=3), _job(), 500
    window.open(job, total)
    out: list[int] = []
    sent: list[int] = []
    lock, peak = threading.Lock(), [0]

    def send(grant: Grant) -> None:
        with lock:
            out.extend(_indexes(grant))
            sent.extend(_indexes(grant))
            peak[0] = max(peak[0], window.in_flight(job))
        window.sent(job, grant)

    def settle_one() -> bool:
        with lock:
            if not out:
                return False
            index = out.pop(random.randrange(len(out)))
        for _ in range(2 if index % 7 == 0 else 1):
            send(window.refill(job, f"image:{index}", returned=index))
        return True

    send(window.refill(job, "split"))
    with ThreadPoolExecutor(8) as pool:
        while any(pool.map(lambda _: settle_one(), range(8))):
            pass

    # Then the window was never exceeded, and each image was sent exactly once
    assert peak[0] <= 16
    assert sorted(sent) == list(range(total))
    assert window.in_flight(job) == 0


def test_opening_again_widens_the_window_and_never_narrows_it(pipeline) -> None:
    # Given a window opened on a job's first 4 images (a large CSV's head), all sent
    window, job = DispatchWindow(pipeline.client, 8, batch=1), _job()
    window.open(job, 4)
    window.sent(job, window.refill(job, "split"))
    # When the split has created the rest, and a late delivery opens it on fewer
    window.open(job, 10)
    window.open(job, 4)
    # Then the next refill sends past the head, up to the window
    assert _indexes(window.refill(job, "split")) == [4, 5, 6, 7]
