"""What `dramatiq actors.worker` (so `imgpress worker`) loads in each worker process.

Dramatiq imports this module, then takes the broker it set; so wiring happens here, once, from
the environment's Config: this is the worker's entry point, the only place it may.
"""

from __future__ import annotations

from actors.pipeline import start
from ops.config import load

broker = start(load()).broker
