"""`python -m ops.bench [--only overhead,latency,memory,api] [--quick]` (`make bench`);
`--only catalog` for the 100,000-image job."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from ops.bench import BENCH_DIR, ROOT, machine, photos, report
from ops.bench.goals import GOALS, NOT_HERE_YET, ON_REQUEST
from ops.bench.report import GoalResult
from ops.bench.service import SET_BY_SERVICE, default_worker_threads
from ops.bench.settings import Settings

LAST = BENCH_DIR / "last.json"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops.bench", description=__doc__)
    usual = [name for name in GOALS if name not in ON_REQUEST]
    parser.add_argument(
        "--only",
        default=",".join(usual),
        help=f"comma-separated goals among {', '.join(GOALS)} (default: all but "
        f"{', '.join(sorted(ON_REQUEST))}, run only when named)",
    )
    parser.add_argument("--quick", action="store_true", help="smaller runs, for development")
    parser.add_argument(
        "--threads", type=int, help="imgpress worker --threads (default: the service's default)"
    )
    parser.add_argument("--keep-data", action="store_true", help="keep var/bench/data/ after")
    return parser


def _selected(only: str) -> list[str]:
    names = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in names if name not in GOALS]
    if unknown or not names:
        raise SystemExit(f"--only takes names among {', '.join(GOALS)}, not {only!r}")
    return [name for name in GOALS if name in names]  # always in the goals' own order


def _header(settings: Settings, names: list[str]) -> dict[str, Any]:
    about = machine.describe()
    threads = settings.worker_threads or default_worker_threads()
    environment = passed_on()
    header: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": about,
        "revision": machine.revision(ROOT),
        "mode": "quick" if settings.quick else "full",
        "goals_run": names,
        "worker_threads": threads,
        "photos": photos.DESCRIPTION,
        "environment": environment,
    }
    print(f"imgpress benchmark, {header['started_at']}, {header['mode']} run of {', '.join(names)}")
    print(f"machine: {machine.summary(about)}; load average {os.getloadavg()[0]:.2f}")
    print(f"code: {header['revision']}")
    print(f"photos: {photos.DESCRIPTION}")
    default = "the service's default" if settings.worker_threads is None else "asked for"
    print(
        f"service: imgpress serve --workers 2, worker --processes 2 --threads {threads} ({default})"
    )
    if environment:
        print(f"passed on to the service: {' '.join(environment)}")
    return header


def passed_on() -> list[str]:
    """IMGPRESS_* settings of this shell that reach the service: they change what is measured."""
    return sorted(
        f"{name}={value}"
        for name, value in os.environ.items()
        if name.startswith("IMGPRESS_") and name not in SET_BY_SERVICE
    )


def _run_goal(name: str, settings: Settings) -> GoalResult:
    print(f"\n== {name} ==", flush=True)
    started = time.perf_counter()
    try:
        result = GOALS[name](settings)
    except Exception as error:  # one goal that cannot be measured must not hide the others
        traceback.print_exc()
        result = GoalResult(name, error=f"{type(error).__name__}: {error}")
    result.seconds = round(time.perf_counter() - started, 1)
    # Other work on the machine shows here: the figures of a loaded machine are noisier.
    print(f"  ({result.seconds:g} s; load average {os.getloadavg()[0]:.2f})", flush=True)
    return result


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds the stack, so every service and pool is stopped on the way out.
    sys.exit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    names = _selected(args.only)
    settings = Settings(quick=args.quick, worker_threads=args.threads, keep_data=args.keep_data)
    started = time.perf_counter()
    header = _header(settings, names)
    results = [_run_goal(name, settings) for name in names]
    elapsed = time.perf_counter() - started
    print("\n" + report.table(results))
    print(f"\nwhole benchmark: {elapsed:.0f} s; figures in {LAST}")
    report.write_json(LAST, {**header, "elapsed_s": round(elapsed, 1)}, results)
    # Exit 1 only when a goal could not be measured: a FAIL is a figure, not an error.
    unmeasured = [name for name, r in zip(names, results, strict=True) if r.error]
    return 1 if set(unmeasured) - NOT_HERE_YET else 0


if __name__ == "__main__":
    sys.exit(main())
