"""`imgpress process` submitting its CSV: what it leaves behind in this process."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from actors.runtime import current
from tests.jobs import wait_until_announced


def _files_open_under(folder: Path) -> set[str]:
    """What this process's descriptors point at inside `folder` (renamed files included)."""
    held = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the listing's own descriptor, closed by now
        if target.startswith(str(folder)):
            held.add(target)
    return held


def test_submitting_a_csv_leaves_no_descriptor_open_on_its_copy(
    pipeline: object, worker: object, tmp_path: Path
) -> None:
    from actors.options import JobOptions
    from ops.local_job import _submit

    layout = current().layout

    # Given a CSV on disk
    csv = tmp_path / "products.csv"
    csv.write_text("Product Name,URL\nA,not-a-url\n", encoding="utf-8")
    before = _files_open_under(layout.inputs)
    args = argparse.Namespace(csv=csv)

    # When `imgpress process` submits it as a job
    job_id = _submit(current(), args, JobOptions())

    # Then the copy it made under the inputs is not held open by this process
    assert _files_open_under(layout.inputs) - before == set()
    assert wait_until_announced(job_id).status == "completed"
