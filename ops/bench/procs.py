"""What /proc says about the service's processes: children, resident and peak memory."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
# Writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS (Linux 4.0+).
_RESET_PEAK = "5"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Memory:
    rss_mib: float  # VmRSS now
    peak_mib: float  # VmHWM: the highest RSS since start or since the last reset


def children(pid: int) -> list[int]:
    """Direct children of `pid`, from every one of its threads (a thread may fork too)."""
    found: list[int] = []
    for task in (_PROC / str(pid) / "task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended while we looked
    return sorted(set(found))


def memory(pid: int) -> Memory:
    fields = dict(
        line.split(":", 1) for line in (_PROC / str(pid) / "status").read_text().splitlines()
    )
    return Memory(_mib(fields["VmRSS"]), _mib(fields["VmHWM"]))


def reset_peak(pid: int) -> bool:
    """Start a new peak-RSS window for `pid`; False when the kernel does not allow it."""
    try:
        (_PROC / str(pid) / "clear_refs").write_text(_RESET_PEAK)
    except OSError:
        return False
    return True


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    found = [pid]
    for child in children(pid):
        found += tree(child)
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (those still running)."""
    total = 0
    for pid in pids:
        try:
            stat = (_PROC / str(pid) / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "(name)", which may hold spaces
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / _CLOCK_TICKS


def command_line(pid: int) -> str:
    raw = (_PROC / str(pid) / "cmdline").read_bytes()
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def _mib(field: str) -> float:
    kib = int(field.strip().split()[0])  # "123456 kB": the kernel's kB are KiB
    return kib / 1024


def machine_cpu_seconds() -> float:
    """CPU time every core of the machine has spent busy since boot (from /proc/stat)."""
    fields = (_PROC / "stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


class OtherLoad:
    """How many cores processes outside the benchmark kept busy while a measurement ran.

    The machine is shared: a round that others slowed down says so next to its figure.
    Ours are this process, everything it started, and `extra` (the daemonized Redis).
    """

    def __init__(self, extra: list[int] | None = None) -> None:
        self._extra = extra or []
        self.cores = 0.0

    def _ours(self) -> float:
        return cpu_seconds(sorted(set(tree(os.getpid()) + self._extra)))

    def __enter__(self) -> OtherLoad:
        self._started = time.monotonic()
        self._machine, self._mine = machine_cpu_seconds(), self._ours()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.monotonic() - self._started
        others = machine_cpu_seconds() - self._machine - (self._ours() - self._mine)
        self.cores = max(0.0, others / wall) if wall > 0 else 0.0
