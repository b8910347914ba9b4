"""The split creates a job's images once, in one commit or in two (its head first), across
every batch boundary; their pending indexes and their outcomes read back page by page, in
index order."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from storage import images, jobs
from storage import pending as pending_module
from storage import split as split_module
from storage.images import Outcome, images_of, outcomes_in_order, record_outcome
from storage.outbox import Publication
from storage.pending import Pending, pending_indexes, pending_of
from storage.split import HeadImage, NewSlot, add_head, add_images

INVALID = "invalid_url: not an absolute http(s) URL"
# More slots than two INSERT statements hold; a third of the URLs named again 900 slots
# later, in another statement; invalid URLs among them, each of the two named many times.
SLOTS = [
    NewSlot(f"ftp://x.test/{n % 2}", INVALID)
    if n % 97 == 5
    else NewSlot(f"http://x.test/{n % 900}")
    for n in range(2 * split_module.ROWS_PER_STATEMENT + 234)
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
    monkeypatch.setattr(pending_module, "PENDING_PER_READ", 7)
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


def _head(slots: list[NewSlot], size: int) -> list[HeadImage]:
    """What the split reads first: the first `size` distinct valid URLs, the slots so far."""
    seen: dict[str, int] = {}
    for url, failure in slots:
        if failure is None and (url in seen or len(seen) < size):
            seen[url] = seen.get(url, 0) + 1
        elif failure is None:
            break
    return [HeadImage(url, count) for url, count in seen.items()]


def _counts(job_id: str) -> tuple[int, int]:
    view = jobs.get_job(job_id)
    assert view is not None
    return view.processed_images, view.failed_images


def test_a_split_in_two_commits_makes_the_images_of_one_and_completes_the_head(pipeline) -> None:
    # Given a job whose first 400 distinct URLs were created and sent (each named once so
    # far, and 334 of them again later in the file), two of them settled meanwhile
    job_id, counted = _job(), []
    head = _head(SLOTS, 400)
    assert add_head(job_id, head, counted.append) and counted == [400]
    assert not add_head(job_id, head, counted.append)  # a redelivery: once only
    first, second = images_of(job_id)[:2]
    event = Publication("image.compressed", {})
    record_outcome(first.id, Outcome("ok"), event)
    record_outcome(second.id, Outcome("failed", error="not_found: 404"), event)
    assert _counts(job_id) == (1, 1)
    # When the rest of the file is split
    rest = add_images(job_id, lambda: SLOTS, _event, counted.append)
    # Then the images are those one commit makes, the settled ones kept as they were
    assert [image[:3] for image in _images(job_id)] == [image[:3] for image in _as_split(SLOTS)]
    assert [i.status for i in images_of(job_id)[:3]] == ["ok", "failed", "pending"]
    # And the count is left to be rebuilt from the rows (it was started for the head only)
    assert rest.first_time and not rest.counted and counted == [400]
    valid = sum(1 for *_, status in _as_split(SLOTS) if status == "pending")
    assert rest.pending == Pending(valid - 2, valid - 1)
    # And the job's counts hold the settled images' slots in the whole file, and the
    # invalid URLs', as the images say
    invalid = sum(1 for slot in SLOTS if slot.failure)
    assert _counts(job_id) == (2, 2 + invalid)
    assert [i.url for i in rest.failed_now] == ["ftp://x.test/1", "ftp://x.test/0"]
    # And a later delivery finds it all there
    again = add_images(job_id, lambda: SLOTS, _event, counted.append)
    assert not again.first_time and again.pending == rest.pending and again.staged == []
    assert not add_head(job_id, head, counted.append)


def test_a_split_stopped_between_its_commits_is_finished_by_its_redelivery(pipeline) -> None:
    # Given a job whose head was created, and whose rest failed midway the first time
    job_id, counted = _job(), []
    add_head(job_id, _head(SLOTS, 300), counted.append)
    with pytest.raises(OSError, match="went away"):
        add_images(job_id, lambda: _breaking(900), _event, counted.append)
    assert len(images_of(job_id)) == 300
    assert not pending_module.all_created(job_id, len(SLOTS))
    # When the split is delivered again
    done = add_images(job_id, lambda: SLOTS, _event, counted.append)
    # Then every image is there once, the invalid URLs' events recorded once
    assert _images(job_id) == _as_split(SLOTS)
    assert done.first_time and len(done.staged) == 2
    assert pending_module.all_created(job_id, len(SLOTS))
