"""The actor chain on real parts: Redis, a Dramatiq worker, a loopback origin of real photos."""

from __future__ import annotations

import csv
import io
from collections import Counter

from actors.runtime import current
from tests.images import open_image
from tests.jobs import submit, wait_until_announced
from tests.receiver import poll
from tests.recording_subscriber import seen

PHOTOS = ["astronaut.jpg", "chelsea.png", "coffee.jpg"]


def _csv(rows: list[tuple[str, str]]) -> str:
    lines = ["S. No, Product Name, Input URLs"]
    for number, (product, urls) in enumerate(rows, start=1):
        lines.append(f'{number},{product},"{urls}"')
    return "\n".join(lines) + "\n"


def _subjects(job_id: str) -> Counter[str]:
    return Counter(item["subject"] for item in seen(job_id))


def _settled_subjects(job_id: str, expected_events: int) -> Counter[str]:
    """Subscribers run asynchronously: wait until the recorder has seen every event."""
    return poll(lambda: (c := _subjects(job_id)).total() >= expected_events and c)


def test_a_job_with_repeats_failures_and_skips_counts_every_slot(origin, worker) -> None:
    # Given rows naming real photos, one URL three times, a 404, an invalid URL and a skip
    a, b, c = (origin.url(f"/photos/{name}") for name in PHOTOS)
    text = _csv(
        [
            ("SKU1", f"{a}, {b}"),
            ("SKU2", f"{a} {c}"),
            ("SKU3", a),
            ("SKU4", f"{origin.url('/missing.jpg')}, ftp://nope/x.jpg"),
            ("SKU5", ""),
        ]
    )
    earlier = len(origin.requests)  # the origin is shared by the whole session
    # When the job runs
    job = wait_until_announced(submit(text))
    # Then 7 slots were counted exactly, each distinct URL fetched once
    assert (job.status, job.total_images) == ("completed", 7)
    assert (job.processed_images, job.failed_images) == (5, 2)
    assert job.skipped_rows == [{"row": 6, "reason": "no URL"}]
    fetched = Counter(r.path for r in origin.requests[earlier:] if r.path.startswith("/photos/"))
    assert fetched == {f"/photos/{name}": 1 for name in PHOTOS}
    subjects = _settled_subjects(job.id, 7)
    assert subjects["job.completed"] == 1 and subjects["csv.received"] == 1
    assert subjects["image.compressed"] == 3 and subjects["image.failed"] == 2


def test_the_output_csv_keeps_every_slot_in_place(origin, worker) -> None:
    layout = current().layout

    a, b = origin.url("/photos/coffee.jpg"), origin.url("/photos/rocket.jpg")
    job = wait_until_announced(submit(_csv([("P1", f"{a}, {origin.url('/missing.jpg')}, {b}")])))
    rows = list(csv.reader(io.StringIO(layout.output_csv(job.id).read_text())))
    assert rows[0] == ["S. No", "Product Name", "Input URLs", "Output Image Urls"]
    first, missing, last = rows[1][3].split(",")
    assert missing == "" and first.endswith(".jpg") and last.endswith(".jpg")
    relative = last.split("/output_images/")[1]
    assert open_image(layout.image(relative).read_bytes()).size == (640, 427)


def test_a_failing_subscriber_is_retried_and_disturbs_nothing(origin, worker) -> None:
    client = current().client

    job = wait_until_announced(submit(_csv([("P", origin.url("/photos/coffee.jpg"))])))
    assert job.status == "completed"
    poll(lambda: client.lrange(f"test:flaky-ok:{job.id}", 0, -1))
    assert int(client.get(f"test:flaky:{job.id}") or 0) == 2  # failed once, then succeeded
    assert _settled_subjects(job.id, 3)["job.completed"] == 1


def test_an_image_that_downloads_but_does_not_decode_reports_its_bytes(origin, worker) -> None:
    layout = current().layout

    origin.serve("/page.jpg", b"<html>not a photo</html>", "image/jpeg")
    job = wait_until_announced(submit(_csv([("P", origin.url("/page.jpg"))])))
    report = list(csv.DictReader(io.StringIO(layout.report_csv(job.id).read_text())))
    assert report[0]["status"] == "failed" and report[0]["error"].startswith("not_an_image")
    assert report[0]["input_bytes"] == "24"
