"""Where outputs live on disk, and how they are written without ever leaving half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_writer(path: Path, mode: str = "wb", **open_args: object) -> Iterator[IO[Any]]:
    """Open a temporary file beside `path`; it replaces `path` only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, mode, **open_args) as handle:  # type: ignore[call-overload]
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_writer(path) as handle:
        handle.write(data)


class Layout:
    """The data dir's folders; every path the service reads or writes comes from here."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir

    @property
    def inputs(self) -> Path:
        return self.root / "input"

    @property
    def images(self) -> Path:
        return self.root / "output_images"

    @property
    def output_csvs(self) -> Path:
        return self.root / "output_csv"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def input_csv(self, job_id: str) -> Path:
        return self.inputs / f"{job_id}.csv"

    def output_csv(self, job_id: str) -> Path:
        return self.output_csvs / f"{job_id}.csv"

    def report_csv(self, job_id: str) -> Path:
        return self.reports / f"{job_id}.csv"

    def image(self, relative: str) -> Path:
        return self.images / relative

    def create(self) -> None:
        for folder in (self.inputs, self.images, self.output_csvs, self.reports):
            folder.mkdir(parents=True, exist_ok=True)


class PublicUrls:
    """Every URL the service hands out: absolute, on IMGPRESS_PUBLIC_BASE_URL."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")

    def status(self, job_id: str) -> str:
        return f"{self.base}/status/{job_id}"

    def output_csv(self, job_id: str) -> str:
        return f"{self.base}/output_csv/{job_id}.csv"

    def report(self, job_id: str) -> str:
        return f"{self.base}/reports/{job_id}.csv"

    def image(self, relative: str) -> str:
        return f"{self.base}/output_images/{relative}"
