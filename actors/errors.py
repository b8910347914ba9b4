"""Errors of the image pipeline. A failure carries a reason from a fixed vocabulary
(`storage.vocabulary.FailureReason`)."""

from __future__ import annotations

from storage.vocabulary import FailureReason


class PipelineError(Exception):
    """Raised when the pipeline cannot go on; base of every error in `actors`."""


class OptionError(PipelineError, ValueError):
    """Raised when a job's options cannot be used; the message says why, and is what the API
    (400) and the CLI (exit 2) show. A ValueError too: a bad value is what it is."""


class ImageFailure(PipelineError):
    """Raised when one image cannot be fetched or compressed, with a reason and a message."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        self.reason = FailureReason(reason)  # a ValueError for a word not in the vocabulary
        self.message = message
        super().__init__(self.report_text)

    @property
    def report_text(self) -> str:
        """What the report's `error` column shows: the reason, then a short human message."""
        return f"{self.reason}: {self.message}"


class PermanentFailure(ImageFailure):
    """Raised when trying again cannot help (404, not an image, too large, blocked)."""


class TransientFailure(ImageFailure):
    """Raised when another attempt may succeed (connection reset, timeout, 429, 5xx)."""
