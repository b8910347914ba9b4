"""Sending image work: the split sends a job's images, and recovery sends again those whose
messages Redis lost. The message names the actor, so this module needs no import of it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from actors import runtime
from storage.images import ImageRecord

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


def dispatch(job_id: str, images: Iterable[ImageRecord], options: dict[str, Any]) -> int:
    """One compress message per image, in index order; returns how many were sent."""
    actor = runtime.broker().get_actor(COMPRESS_ACTOR)
    sent = 0
    for image in images:
        actor.send(ImageTask(job_id, image.id, image.index, image.url, options).as_message())
        sent += 1
    return sent
