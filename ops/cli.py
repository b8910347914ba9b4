"""`imgpress`: run the service (up, serve, worker) or one job from the shell (process)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from actors.errors import OptionError
from actors.formats import AUTO_FORMATS, REQUESTABLE_FORMATS
from actors.option_fields import MAX_DIMENSION, OPTION_FIELDS, parse_options
from ops import config as config_module
from ops import embedded, metric_files

GUNICORN_CONF = Path(__file__).with_name("gunicorn.conf.py")


def _serve_command(host: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(GUNICORN_CONF),
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "svc.app:get_app()",
    ]


def _worker_command(processes: int, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dramatiq",
        "actors.worker",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
    ]


def _tidy_metrics() -> None:
    # Every command that starts metric-writing processes folds what dead ones left behind.
    metric_files.tidy(metric_files.folder_of(config_module.load()))


def serve(args: argparse.Namespace) -> int:
    _tidy_metrics()
    os.execv(sys.executable, _serve_command(args.host, args.port, args.workers))


def _worker_env(threads: int) -> dict[str, str]:
    """Worker tuning that Dramatiq and glibc only take from the environment (yours wins)."""
    tuning = {
        # An idle consumer sleeps up to this long before looking again (Dramatiq's default,
        # 1 s, left threads waiting for messages while hundreds were queued).
        "dramatiq_worker_timeout": "100",
        # Take no more messages than threads: a process must not hoard a small job's images
        # while the other process idles.
        "dramatiq_queue_prefetch": str(threads),
        # glibc gives threads up to 8 arenas a core, each keeping freed memory for its own
        # threads: RSS grew with the thread count. With two, the compressing thread keeps to
        # the arena it was given and reuses its buffers image after image
        # (actors.compress_image). One arena for all threads bounded memory too, but cost 12%
        # more CPU per image (lock contention between 16 threads).
        "MALLOC_ARENA_MAX": "2",
    }
    return {**tuning, **os.environ}


def worker(args: argparse.Namespace) -> int:
    _tidy_metrics()
    command = _worker_command(args.processes, args.threads)
    os.execve(sys.executable, command, _worker_env(args.threads))


def _wait_for_any(children: list[subprocess.Popen[bytes]]) -> None:
    stop = {"asked": False}

    def ask_to_stop(signum: int, frame: FrameType | None) -> None:
        stop["asked"] = True

    signal.signal(signal.SIGTERM, ask_to_stop)
    signal.signal(signal.SIGINT, ask_to_stop)
    while not stop["asked"] and all(child.poll() is None for child in children):
        time.sleep(0.2)


def _stop_all(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()


def up(args: argparse.Namespace) -> int:
    """API + worker + (unless IMGPRESS_REDIS_URL) the embedded Redis, until Ctrl-C/SIGTERM."""
    config = config_module.load()
    _tidy_metrics()
    started_redis = not config.redis_url and embedded.ensure_running(config.data_dir)[1]
    children = [
        subprocess.Popen(_serve_command(args.host, args.port, args.workers)),
        subprocess.Popen(
            _worker_command(args.processes, args.threads), env=_worker_env(args.threads)
        ),
    ]
    print(f"imgpress is up on http://{args.host}:{args.port} (data in {config.data_dir})")
    try:
        _wait_for_any(children)
    finally:
        _stop_all(children)
        if started_redis:
            embedded.stop(config.data_dir)
    return 0


def process(args: argparse.Namespace) -> int:
    given = {name: value for name in OPTION_FIELDS if (value := getattr(args, name)) is not None}
    try:
        options = parse_options(given, config_module.load())
    except OptionError as refused:
        sys.stderr.write(f"imgpress process: {refused}\n")
        return 2
    # Imported here: only `process` needs the pipeline's modules.
    from ops.local_job import run_local_job

    return run_local_job(args, options)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imgpress", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, runner in (("up", up), ("serve", serve)):
        sub = commands.add_parser(name)
        sub.add_argument("--host", default="127.0.0.1")
        sub.add_argument("--port", type=int, default=8000)
        sub.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
        sub.set_defaults(run=runner)
    for name, runner in (("up", up), ("worker", worker)):
        sub = commands.choices.get(name) or commands.add_parser(name)
        sub.add_argument("--processes", type=int, default=os.cpu_count() or 2)
        sub.add_argument("--threads", type=int, default=16)
        sub.set_defaults(run=runner)
    _process_parser(commands.add_parser("process", help="one job without HTTP"))
    return parser


def _process_parser(sub: argparse.ArgumentParser) -> None:
    # Option flags stay text: `process` parses them as the API parses an upload's fields.
    sub.add_argument("csv", type=Path)
    sub.add_argument("--out", type=Path, default=Path("."))
    sub.add_argument("--format", help=f"{', '.join(REQUESTABLE_FORMATS)} (default: original)")
    sub.add_argument("--quality", help="1-100 or auto")
    sub.add_argument(
        "--accept",
        help=f"what --format auto may choose among {', '.join(AUTO_FORMATS)}, e.g. webp,jpeg",
    )
    sub.add_argument("--max-width", help=f"1-{MAX_DIMENSION}")
    sub.add_argument("--max-height", help=f"1-{MAX_DIMENSION}")
    sub.add_argument("--threads", type=int, default=(os.cpu_count() or 2) * 2)
    sub.set_defaults(run=process)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
