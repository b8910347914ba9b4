"""What one run of the benchmark was asked for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    quick: bool = False  # smaller runs, for development: the figures are noisier
    worker_threads: int | None = None  # `imgpress worker --threads`; None: the service's default
    keep_data: bool = False  # keep each service's data dir under var/bench/data/ afterwards

    def pick(self, full: int, quick: int) -> int:
        return quick if self.quick else full
