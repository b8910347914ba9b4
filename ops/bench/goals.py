"""The goals of issue 4, in the order they run and print; `--only` names them.

Goal 3 (bytes) is measured by its own module, written separately: give it a
`run(settings: Settings) -> GoalResult` and put it in place of `_bytes_not_here_yet` below.
"""

from __future__ import annotations

from collections.abc import Callable

from ops.bench import api, latency, memory, overhead
from ops.bench.report import GoalResult
from ops.bench.settings import Settings

Runner = Callable[[Settings], GoalResult]


def _bytes_not_here_yet(settings: Settings) -> GoalResult:
    return GoalResult("3 bytes", error="not part of this benchmark yet (ops/bench/goals.py)")


# Goals whose measurement is not written yet: "not measured" is then no error.
NOT_HERE_YET = frozenset({"bytes"})

GOALS: dict[str, Runner] = {
    "overhead": overhead.run,
    "latency": latency.run,
    "bytes": _bytes_not_here_yet,
    "memory": memory.run,
    "api": api.run,
}
