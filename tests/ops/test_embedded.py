"""The embedded Redis when the data dir's path is too long for a unix socket under it."""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ops import embedded


@pytest.fixture
def long_data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data dir whose socket path would pass the 108 bytes a unix socket path may have."""
    data_dir = tmp_path / ("d" * 110)
    yield data_dir
    embedded.stop(data_dir)


@contextmanager
def squatter(path: Path) -> Iterator[None]:
    """Someone else's server on `path` that answers PONG to anything, as Redis answers PING."""
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen()
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            with client:
                while client.recv(4096):
                    client.sendall(b"+PONG\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopping.set()
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        path.unlink(missing_ok=True)


def test_the_socket_goes_to_a_private_folder_recorded_in_the_data_dir(
    long_data_dir: Path,
) -> None:
    # When the embedded Redis of a data dir with a long path is started
    url, started = embedded.ensure_running(long_data_dir)

    # Then its socket is in a folder only we may enter, and any process finds it from there
    folder = Path(url.removeprefix("unix://")).parent
    info = folder.lstat()
    assert started and stat.S_ISDIR(info.st_mode)
    assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o700, os.getuid())
    assert not folder.is_relative_to(long_data_dir)
    assert embedded.url_for(long_data_dir) == url
    assert embedded.ensure_running(long_data_dir) == (url, False)


def test_a_server_on_the_predictable_tmp_name_is_not_trusted(long_data_dir: Path) -> None:
    # Given someone else listening where a name derived from the data dir would be
    # (what an earlier build used: /tmp/imgpress-<sha256 of the socket path>.sock)
    derived = long_data_dir / "redis" / "redis.sock"
    digest = hashlib.sha256(str(derived).encode()).hexdigest()[:16]
    predictable = Path(tempfile.gettempdir()) / f"imgpress-{digest}.sock"

    with squatter(predictable):
        # When the data dir's Redis is asked for
        url, started = embedded.ensure_running(long_data_dir)

    # Then it is a server of our own, elsewhere
    assert started
    assert url != f"unix://{predictable}"


def test_a_recorded_socket_in_a_folder_others_may_enter_is_not_trusted(
    long_data_dir: Path, tmp_path: Path
) -> None:
    # Given a recorded socket path whose folder is not private (mode 0755), with a server on it
    open_folder = tmp_path / "open"
    open_folder.mkdir(mode=0o755)
    (long_data_dir / "redis").mkdir(parents=True)
    (long_data_dir / "redis" / "socket-path").write_text(str(open_folder / "redis.sock"))

    with squatter(open_folder / "redis.sock"):
        # When the data dir's Redis is asked for
        assert not embedded.is_running(long_data_dir)
        url, started = embedded.ensure_running(long_data_dir)

    # Then it is a server of our own, in a private folder
    assert started
    assert Path(url.removeprefix("unix://")).parent != open_folder
