"""A job larger than every batch the split and the finish work in (storage/split.py,
storage/images.py) still counts every slot exactly and writes every slot's result in place."""

from __future__ import annotations

import csv
import secrets
from pathlib import Path

from PIL import Image

from actors.runtime import current
from storage import images, split
from tests.images import encode
from tests.jobs import submit, wait_until_announced

DISTINCT = images.OUTCOMES_PER_READ + 100  # images: more than a page of the finish's reads
REPEATED = 150  # URLs named again, long after their first slot


def _urls(origin) -> list[str]:
    tag = secrets.token_hex(4)
    body = encode(Image.new("RGB", (8, 8), (200, 40, 40)), "PNG")
    urls = []
    for n in range(DISTINCT):
        origin.serve(f"/large-{tag}/{n}.png", body, "image/png")
        urls.append(origin.url(f"/large-{tag}/{n}.png"))
    return urls


def _csv(urls: list[str], missing: str) -> str:
    rows = [f"P{n},{url}" for n, url in enumerate(urls)]
    rows += [f"R{n},{url}" for n, url in enumerate(urls[:REPEATED])]
    rows += [f'X,"ftp://x.test/a.png {missing}"', ",no-product", "Y,ftp://x.test/a.png"]
    return "Product,URL\n" + "\n".join(rows) + "\n"


def _read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_a_job_larger_than_every_batch_completes_with_every_slot_in_place(
    origin, worker, pipeline
) -> None:
    # Given a job of more slots than the split's statements hold and more images than a
    # page of the finish's reads, with repeats, an invalid URL twice, a 404 and a skipped row
    urls = _urls(origin)
    slots = DISTINCT + REPEATED + 3
    assert slots > 2 * split.ROWS_PER_STATEMENT
    # When it runs
    job = wait_until_announced(submit(_csv(urls, origin.url("/missing.jpg"))), timeout=300)
    # Then every slot was counted once
    assert (job.status, job.total_images) == ("completed", slots)
    assert (job.processed_images, job.failed_images) == (DISTINCT + REPEATED, 3)
    # And each row of the output CSV names its own image's file, a failed slot left empty
    layout, links = current().layout, current().urls
    by_url = {image.url: image.outcome for image in images.images_of(job.id)}

    def output(url: str) -> str:
        outcome = by_url[url]
        return links.image(outcome.output_path) if outcome.output_path else ""

    output_rows = _read(layout.output_csv(job.id))[1:]
    for row in output_rows[: DISTINCT + REPEATED]:
        assert row[2] == output(row[1]) != ""
    assert [row[2] for row in output_rows[DISTINCT + REPEATED :]] == [",", "", ""]
    # And the report has a line per slot in row order, with its image's result
    report = _read(layout.report_csv(job.id))[1:]
    assert [line[2] for line in report[:-1]] == [
        url for row in output_rows if row[0] for url in row[1].split()
    ]
    assert all(line[3] == output(line[2]) for line in report[: DISTINCT + REPEATED])
    assert [line[4] for line in report[-4:]] == ["failed", "failed", "failed", "skipped"]
    # (Its events reach the test subscriber meanwhile: let them, before the next test's job.)
    pipeline.broker.join("events")
    worker.join()
