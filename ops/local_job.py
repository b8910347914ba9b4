"""`imgpress process FILE.csv`: one job on the same actors, without HTTP, with a progress bar."""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dramatiq

from actors import pipeline
from actors.finish_job import write_outputs
from actors.formats import AUTO
from actors.intake import open_job, summarise
from actors.manifest.errors import ManifestError
from actors.runtime import layout
from ops import embedded
from storage import images, jobs

_BAR = 30


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The same options an upload's form gives (svc/fields.py checks those)."""
    quality = args.quality or (AUTO if args.format == AUTO else pipeline.config.default_quality)
    options: dict[str, Any] = {
        "format": args.format,
        "quality": quality,
        "max_width": args.max_width,
        "max_height": args.max_height,
    }
    if args.format == AUTO:
        options["accept"] = list(args.accept)
    if quality == AUTO:
        options["target"] = pipeline.config.auto_target
    return options


def _show(job: jobs.JobView) -> None:
    done = job.processed_images + job.failed_images
    filled = _BAR * done // job.total_images if job.total_images else _BAR
    sys.stderr.write(
        f"\r[{'#' * filled}{'.' * (_BAR - filled)}] {done}/{job.total_images} images"
        f" ({job.failed_images} failed)"
    )
    sys.stderr.flush()


def _wait(job_id: str) -> jobs.JobView:
    while True:
        job = jobs.get_job(job_id)
        assert job is not None
        _show(job)
        if job.status in jobs.FINAL_STATUSES and job.announced:
            sys.stderr.write("\n")
            return job
        time.sleep(0.2)


def _export(job_id: str, out: Path, stem: str) -> tuple[Path, Path]:
    """Copy the images under OUT/images and write CSVs that name them relative to OUT."""
    for image in images.images_of(job_id):
        if relative := image.outcome.output_path:
            target = out / "images" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(layout.image(relative), target)
    paths = out / f"{stem}.output.csv", out / f"{stem}.report.csv"
    write_outputs(job_id, *paths, lambda relative: f"images/{relative}")
    return paths


def _submit(args: argparse.Namespace) -> str:
    layout.inputs.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=layout.inputs, suffix=".part")
    copy = Path(name)
    try:
        # Through mkstemp's own descriptor, which `with` closes: a descriptor per job would
        # otherwise stay open for as long as the process lives.
        with os.fdopen(handle, "wb") as written, open(args.csv, "rb") as source:
            shutil.copyfileobj(source, written)
        summary = summarise(copy)
    except BaseException:
        copy.unlink(missing_ok=True)
        raise
    job_id = secrets.token_urlsafe(16)
    open_job(job_id, copy, summary, _options(args), None)
    return job_id


def run_local_job(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    finally:
        if pipeline.started_embedded_redis:
            embedded.stop(pipeline.config.data_dir)


def _run(args: argparse.Namespace) -> int:
    try:
        job_id = _submit(args)
    except ManifestError as error:
        print(f"imgpress: {args.csv}: {error.description}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"imgpress: {args.csv}: {error.strerror or error}", file=sys.stderr)
        return 2
    worker = dramatiq.Worker(pipeline.broker, worker_threads=args.threads)
    worker.start()
    try:
        job = _wait(job_id)
    finally:
        worker.stop()
    if job.status != "completed":
        print(f"imgpress: the job failed: {job.error}", file=sys.stderr)
        return 1
    output, report = _export(job_id, args.out, args.csv.stem)
    print(f"output: {output}\nreport: {report}\nimages: {args.out / 'images'}")
    return 0
