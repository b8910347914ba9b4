"""`python -m ops.bench`: the benchmark of issue 4, every figure measured side by side in one run.

Each goal has its own module (overhead, latency, memory, api) returning a `report.GoalResult`;
`goals.py` lists them. Everything the benchmark writes lives under `var/bench/`.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / "var" / "bench"
