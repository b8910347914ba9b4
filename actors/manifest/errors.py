"""Why an uploaded CSV is refused: `ManifestError`, and the refusals of the counts."""

from __future__ import annotations

from actors.errors import PipelineError


class ManifestError(PipelineError):
    """Raised when an uploaded CSV cannot be accepted; carries the HTTP status (400 or 413),
    a title and a precise description."""

    def __init__(self, status: int, title: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.title = title
        self.description = description


def check_rows(count: int, limit: int) -> None:
    if count == 0:
        raise invalid("the file has a header but no data rows")
    if count > limit:
        raise ManifestError(
            413, "Too many rows", f"the file has {count:,} data rows; the limit is {limit:,}"
        )


def check_images(count: int, limit: int) -> None:
    if count > limit:
        raise ManifestError(
            413,
            "Too many images",
            f"the file names {count:,} images (every URL of every row counts, repeats "
            f"included); the limit is {limit:,} per job",
        )


def invalid(description: str) -> ManifestError:
    return ManifestError(400, "Invalid CSV", description)
