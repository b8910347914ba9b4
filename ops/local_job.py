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

import dramatiq

from actors import pipeline
from actors.intake import open_job, summarise
from actors.manifest.errors import ManifestError
from actors.options import JobOptions
from actors.runtime import Runtime
from ops import config as config_module
from ops import embedded
from storage import images, jobs
from storage.vocabulary import FINAL_STATUSES, JobStatus

_BAR = 30


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
        if job.status in FINAL_STATUSES and job.announced:
            sys.stderr.write("\n")
            return job
        time.sleep(0.2)


def _export(runtime: Runtime, job_id: str, out: Path, stem: str) -> tuple[Path, Path]:
    """Copy the images under OUT/images and write CSVs that name them relative to OUT."""
    from actors.finish_job import write_outputs  # an actor module: only once wired

    for _, _, outcome in images.outcomes_in_order(job_id):
        if relative := outcome.output_path:
            target = out / "images" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(runtime.layout.image(relative), target)
    paths = out / f"{stem}.output.csv", out / f"{stem}.report.csv"
    write_outputs(job_id, *paths, lambda relative: f"images/{relative}")
    return paths


def _submit(runtime: Runtime, args: argparse.Namespace, options: JobOptions) -> str:
    layout = runtime.layout
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
    open_job(job_id, copy, summary, options, None)
    return job_id


def run_local_job(args: argparse.Namespace, options: JobOptions) -> int:
    """Run one job with `options`, parsed by the CLI as the API parses an upload's fields."""
    runtime = pipeline.start(config_module.load())
    try:
        return _run(runtime, args, options)
    finally:
        if runtime.started_embedded_redis:
            embedded.stop(runtime.config.data_dir)


def _run(runtime: Runtime, args: argparse.Namespace, options: JobOptions) -> int:
    try:
        job_id = _submit(runtime, args, options)
    except ManifestError as error:
        print(f"imgpress: {args.csv}: {error.description}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"imgpress: {args.csv}: {error.strerror or error}", file=sys.stderr)
        return 2
    worker = dramatiq.Worker(runtime.broker, worker_threads=args.threads)
    worker.start()
    try:
        job = _wait(job_id)
    finally:
        worker.stop()
    if job.status != JobStatus.COMPLETED:
        print(f"imgpress: the job failed: {job.error}", file=sys.stderr)
        return 1
    output, report = _export(runtime, job_id, args.out, args.csv.stem)
    print(f"output: {output}\nreport: {report}\nimages: {args.out / 'images'}")
    return 0
