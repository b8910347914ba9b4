"""Results: figures, checks against the goals, the printed table and var/bench/last.json."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Figure:
    label: str
    value: float
    unit: str

    def __str__(self) -> str:
        return f"{self.label}: {_number(self.value)} {self.unit}".rstrip()


@dataclass(frozen=True)
class Check:
    """One ratio (or one bounded figure) against its goal."""

    name: str
    value: float
    unit: str  # "x" for a ratio
    limit: float
    at_least: bool  # True: the goal is value >= limit; False: value <= limit
    basis: str = ""  # the figures the value comes from, as printed in the table

    @property
    def passed(self) -> bool:
        return self.value >= self.limit if self.at_least else self.value <= self.limit

    @property
    def goal_text(self) -> str:
        return f"{'>=' if self.at_least else '<='} {_number(self.limit)} {self.unit}".rstrip()


@dataclass
class GoalResult:
    goal: str  # e.g. "1 overhead"
    figures: list[Figure] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0  # how long the goal's measurement took
    error: str | None = None  # set when the goal could not be measured

    def add(self, label: str, value: float, unit: str) -> Figure:
        """Record a figure and print it at once, so a long run shows progress."""
        figure = Figure(label, value, unit)
        self.figures.append(figure)
        print(f"  {figure}", flush=True)
        return figure


# Cores other processes may keep busy before a timed figure is flagged as disturbed.
QUIET_CORES = 0.25


def disturbed(others: list[float]) -> str:
    """A warning for a check's basis when other processes took CPU during its timed figures."""
    worst = max(others, default=0.0)
    return f"; DISTURBED: others used {worst:.1f} cores" if worst > QUIET_CORES else ""


def _number(value: float) -> str:
    if value == int(value) and abs(value) >= 10:
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.1f}"


def table(results: list[GoalResult]) -> str:
    rows: list[tuple[str, ...]] = [("goal", "check", "ratio/value", "goal", "result", "from")]
    for result in results:
        rows += _rows(result)
    # Every column but the last (free text) is padded to its widest cell.
    widths = [max(len(row[n]) for row in rows) for n in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[-1]
        for row in rows
    ]
    return "\n".join(lines)


def _rows(result: GoalResult) -> list[tuple[str, ...]]:
    if result.error is not None:
        return [(result.goal, "-", "-", "-", "NOT MEASURED", result.error)]
    return [
        (
            result.goal,
            check.name,
            f"{_number(check.value)} {check.unit}".rstrip(),
            check.goal_text,
            "PASS" if check.passed else "FAIL",
            check.basis,
        )
        for check in result.checks
    ]


def write_json(path: Path, header: dict[str, Any], results: list[GoalResult]) -> None:
    document = {
        **header,
        "goals": [
            {**asdict(result), "checks": [_check_json(check) for check in result.checks]}
            for result in results
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    partial.replace(path)


def _check_json(check: Check) -> dict[str, Any]:
    return {**asdict(check), "passed": check.passed, "goal": check.goal_text}
