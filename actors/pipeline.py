"""`start(config)`: wire the process, then declare every pipeline actor and the user's subscribers.

Every process that sends or runs pipeline work starts here: the Dramatiq worker module
(actors.worker), the API's app factory (it routes the events it publishes) and
`imgpress process`. The actor modules are imported inside `start`, after `bootstrap`, because
Dramatiq binds an actor to the broker when its module is imported.
"""

from __future__ import annotations

import importlib

from actors.events import load_modules
from actors.runtime import Runtime, bootstrap
from ops.config import Config

ACTOR_MODULES = (
    "actors.compress_image",
    "actors.deliver_webhook",
    "actors.finish_job",
    "actors.split_csv",
)


def start(config: Config) -> Runtime:
    """Wire this process from `config` and declare its actors; repeat calls change nothing."""
    runtime = bootstrap(config)
    if runtime not in _started:
        for name in ACTOR_MODULES:
            importlib.import_module(name)
        load_modules(config.subscribers)
        _add_timers(runtime)
        _started.append(runtime)
    return runtime


_started: list[Runtime] = []  # the one Runtime of this process, once its actors exist


def _add_timers(runtime: Runtime) -> None:
    # Imported here: both reach actor modules, which exist only once the broker does.
    from actors.relay import Relay
    from actors.watchdog import Watchdog

    runtime.broker.add_middleware(Watchdog(runtime.config, runtime.client))
    runtime.broker.add_middleware(Relay(runtime.config, runtime.client))
