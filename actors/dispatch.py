"""Sending image work through the job's dispatch window (storage/window.py).

The split opens the window and fills it; each settled image returns its credit and tops it
up; recovery (a count or window Redis lost) starts it over. Messages name the actor, so
this module needs no import of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from actors import runtime
from storage import images, jobs
from storage.window import Grant

COMPRESS_ACTOR = "compress_image"


@dataclass(frozen=True)
class ImageTask:
    """What a message carries: ids and the job's options, never image bytes."""

    job_id: str
    image_id: int
    index: int
    url: str
    options: dict[str, Any]

    def as_message(self) -> dict[str, Any]:
        return asdict(self)


def open_window(job_id: str, last_pending: int | None, *, reset: bool = False) -> int:
    """Open (or, after a loss, start over) the job's window and fill it; how many were sent.

    The window spans indexes up to the last pending image's (None: none is pending): the
    split numbers valid images first, so every image that needs sending is inside it.
    """
    window = runtime.current().window
    size = 0 if last_pending is None else last_pending + 1
    if reset:
        window.reset(job_id, size)
    else:
        window.open(job_id, size)
    return refill(job_id, "recover" if reset else "split")


def refill(job_id: str, trigger: str, returned: int | None = None) -> int:
    """Return `returned`'s credit and send whatever the window has room for."""
    window = runtime.current().window
    grant = window.refill(job_id, trigger, returned)
    if grant.lost or not len(grant):
        # Lost: Redis forgot the window; the count went with it, and recovery (finish_job or
        # the watchdog, from the database) starts the window over.
        return 0
    return _send(grant, job_id)


def _send(grant: Grant, job_id: str) -> int:
    options = _options_of(job_id)
    if options is not None:
        actor = runtime.broker().get_actor(COMPRESS_ACTOR)
        for image_id, index, url in images.to_dispatch(job_id, grant.start, grant.end):
            actor.send(ImageTask(job_id, image_id, index, url, options).as_message())
    runtime.current().window.sent(job_id, grant)
    return len(grant)


_known_options: dict[str, dict[str, Any]] = {}
_OPTIONS_KEPT = 1024  # jobs whose options a process remembers, before it starts over


def _options_of(job_id: str) -> dict[str, Any] | None:
    # A job's options never change, and a window is refilled every few images: read once per
    # job and process (the job's whole view would also count its images each time). An
    # unknown job is not remembered. Never changed by a caller: as_message copies it.
    options = _known_options.get(job_id)
    if options is None and (options := jobs.options_of(job_id)) is not None:
        if len(_known_options) >= _OPTIONS_KEPT:
            _known_options.clear()
        _known_options[job_id] = options
    return options
