"""Test-only crash points: a process SIGKILLs itself at a named instant.

The crash tests name an instant in IMGPRESS_CRASH_AT (read by ops/config.py) for the worker
they start, so the window they test is hit on every run, not by luck. With the variable unset,
as in production, `crash_point` is a set lookup and nothing else.
"""

from __future__ import annotations

import os
import signal

from ops import config as config_module

# Every instant the code can stop at, so a test naming an unknown one fails at once.
POINTS = frozenset(
    {
        "split.head",  # a large CSV's first images committed and sent, the rest not split
        "image.committed",  # an image's outcome committed, its event not yet published
        "image.counted",  # an image counted and its credit returned, its message not yet acked
        "webhook.posting",  # a webhook POST sent, its answer not yet recorded
        "job.counted",  # the last image counted, finish_job not yet sent
        "job.finishing",  # finish_job wrote the CSVs, the job not yet ended
        "job.ended",  # the job ended and announced, its message not yet acknowledged
    }
)


def crash_point(name: str) -> None:
    """SIGKILL this process here when the test asked for it: no cleanup, no flush, as a crash."""
    if name not in POINTS:
        raise ValueError(f"unknown crash point {name!r}")
    if name in config_module.load().crash_at:
        os.kill(os.getpid(), signal.SIGKILL)
