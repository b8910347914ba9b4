"""The split creates a job's images once, in one transaction, across every batch boundary;
their pending indexes and their outcomes read back page by page, in index order."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from storage import images, jobs
from storage import split as split_module
from storage.images import Outcome, images_of, outcomes_in_order, record_outcome
from storage.outbox import Publication
from storage.split import NewSlot, Pending, add_images, pending_indexes, pending_of

INVALID = "invalid_url: not an absolute http(s) URL"
# More slots than two INSERT statements hold; a third of the URLs named again 900 slots
# later, in another statement; invalid URLs among them, each of the two named many times.
SLOTS = [
    NewSlot(f"ftp://x.test/{n % 2}", INVALID)
    if n % 97 == 5
    else NewSlot(f"http://x.test/{n % 900}")
    for n in range(2 * split_module.SLOTS_PER_STATEMENT + 234)
]


def _job() -> str:
    job_id = secrets.token_urlsafe(8)
    jobs.create_job(job_id, {"format": "original"}, len(SLOTS), [], None)
    return job_id


def _event(image: images.ImageRecord) -> Publication:
    return Publication("image.failed", {"request_id": image.job_id, "image_id": image.id})


def _as_split(slots: list[NewSlot]) -> list[tuple[int, str, int, str]]:
    """(index, url, slots, status) of the images the split should make, worked out here."""
    urls = [slot.url for slot in slots]
    valid = dict.fromkeys(slot.url for slot in slots if slot.failure is None)
    invalid = dict.fromkeys(slot.url for slot in slots if slot.failure is not None)
    ordered = [(url, "pending") for url in valid] + [(url, "failed") for url in invalid]
    return [(n, url, urls.count(url), status) for n, (url, status) in enumerate(ordered)]


def _images(job_id: str) -> list[tuple[int, str, int, str]]:
    return [(i.index, i.url, i.slots, i.status) for i in images_of(job_id)]


def test_a_job_larger_than_a_statement_is_one_image_per_url_in_first_appearance_order(
    pipeline,
) -> None:
    # Given a job whose slots span three INSERT statements
    job_id, counted = _job(), []
    # When it is split
    split = add_images(job_id, lambda: SLOTS, _event, counted.append)
    # Then each distinct URL is one image, valid ones first, in first-appearance order,
    # with the number of slots that name it
    expected = _as_split(SLOTS)
    assert _images(job_id) == expected
    valid = sum(1 for *_, status in expected if status == "pending")
    assert split.first_time and split.pending == Pending(valid, valid - 1)
    assert counted == [valid]
    # And the invalid URLs failed at once, each with its event in the same commit
    assert [image.url for image in split.failed_now] == ["ftp://x.test/1", "ftp://x.test/0"]
    assert len(split.staged) == 2 and all(i.outcome.error == INVALID for i in split.failed_now)
    view = jobs.get_job(job_id)
    assert view is not None and view.status == "processing"
    assert view.failed_images == sum(1 for slot in SLOTS if slot.failure)


def _breaking(after: int) -> Iterator[NewSlot]:
    yield from SLOTS[:after]
    raise OSError("the disk went away")


def test_a_split_that_fails_midway_leaves_nothing_and_its_redelivery_creates_each_image_once(
    pipeline,
) -> None:
    # Given a split that fails past its first statement (the CSV could not be read to its end)
    job_id, counted = _job(), []
    with pytest.raises(OSError, match="went away"):
        add_images(job_id, lambda: _breaking(700), _event, counted.append)
    # Then nothing of it was kept: no image, no count, the job still pending
    assert images_of(job_id) == [] and counted == []
    view = jobs.get_job(job_id)
    assert view is not None and view.status == "pending"
    # When it is redelivered, and then delivered once more after its commit
    first = add_images(job_id, lambda: SLOTS, _event, counted.append)
    again = add_images(job_id, lambda: SLOTS, _event, counted.append)
    # Then the images were created once, and the last delivery only learnt what is pending
    assert _images(job_id) == _as_split(SLOTS)
    assert first.first_time and not again.first_time and again.staged == []
    assert again.pending == first.pending and len(counted) == 1


def test_pending_indexes_and_outcomes_read_back_page_by_page(pipeline, monkeypatch) -> None:
    # Given a split job, every third of its first 40 images settled, and pages of 7 rows
    monkeypatch.setattr(split_module, "PENDING_PER_READ", 7)
    monkeypatch.setattr(images, "OUTCOMES_PER_READ", 7)
    job_id = _job()
    add_images(job_id, lambda: SLOTS, _event, lambda _: None)
    made = images_of(job_id)
    for image in made[:40:3]:
        done = Outcome("ok", input_bytes=10, output_bytes=4, output_path=f"{image.index}.jpg")
        record_outcome(image.id, done, Publication("image.compressed", {}))
    # Then the pending indexes come in order, every one of them once
    settled = {image.index for image in made[:40:3]}
    pending = [i.index for i in made if i.status == "pending" and i.index not in settled]
    assert list(pending_indexes(job_id)) == pending
    assert pending_of(job_id) == Pending(len(pending), pending[-1])
    # And every image's outcome comes back in index order, as the entities hold it
    expected = [(i.url, i.slots, i.outcome) for i in images_of(job_id)]
    assert list(outcomes_in_order(job_id)) == expected
