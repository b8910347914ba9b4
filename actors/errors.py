"""Errors of the image pipeline. A failure carries a reason from a fixed vocabulary."""

from __future__ import annotations

# The report's `error` column starts with one of these.
REASONS = frozenset(
    {
        "invalid_url",
        "blocked_address",
        "not_found",
        "upstream_error",
        "timeout",
        "too_large",
        "too_many_redirects",
        "not_an_image",
        "too_many_pixels",
        "internal_error",
    }
)


class PipelineError(Exception):
    """Raised when the pipeline cannot go on; base of every error in `actors`."""


class ImageFailure(PipelineError):
    """Raised when one image cannot be fetched or compressed, with a reason and a message."""

    def __init__(self, reason: str, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown failure reason {reason!r}")
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message

    @property
    def report_text(self) -> str:
        """What the report's `error` column shows: the reason, then a short human message."""
        return f"{self.reason}: {self.message}"


class PermanentFailure(ImageFailure):
    """Raised when trying again cannot help (404, not an image, too large, blocked)."""


class TransientFailure(ImageFailure):
    """Raised when another attempt may succeed (connection reset, timeout, 429, 5xx)."""
