"""The goals of issues 4 and 9, in the order they run and print; `--only` names them."""

from __future__ import annotations

from collections.abc import Callable

from ops.bench import api, catalog, fairness, latency, memory, overhead, scale
from ops.bench import bytes as bytes_goal  # `as`: not the builtin
from ops.bench.report import GoalResult
from ops.bench.settings import Settings

Runner = Callable[[Settings], GoalResult]


# Goals whose measurement is not written yet: "not measured" is then no error.
NOT_HERE_YET: frozenset[str] = frozenset()
# Goals that run only when `--only` names them: the 100,000-image job takes half an hour here.
ON_REQUEST = frozenset({"catalog"})

GOALS: dict[str, Runner] = {
    "overhead": overhead.run,
    "latency": latency.run,
    "bytes": bytes_goal.run,
    "memory": memory.run,
    "api": api.run,
    "scale": scale.run,
    "fairness": fairness.run,
    "catalog": catalog.run,
}
