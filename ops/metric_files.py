"""The multiprocess metrics folder kept small: files of processes that are gone are folded.

prometheus_client writes one file per process and metric type, and never removes one but a
live gauge's (`mark_process_dead`). Removing a dead process's counter or histogram would take
its counts out of the totals, which Prometheus would read as a counter reset; so at start-up
they are added into one `<type>_archive.db` per type and then removed. Files of processes
still alive are left alone: `serve` and `worker` started apart share the folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from ops.config import Config

# Types whose values add up across processes; a gauge's do not, and a dead process's live
# gauge is simply dropped.
_SUMMED = ("counter", "histogram", "summary")
_FILE = re.compile(r"(?P<type>[a-z]+)(?:_(?P<mode>[a-z]+))?_(?P<pid>[0-9]+)\.db")


def folder_of(config: Config) -> Path:
    """The folder ops.metrics uses: PROMETHEUS_MULTIPROC_DIR when set, else the data dir's."""
    return Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or config.metrics_dir)


def tidy(folder: Path) -> None:
    """Fold the files of dead processes into the archives; drop their live gauges."""
    if not folder.is_dir():
        return
    with _locked(folder):
        dead = [path for path in folder.glob("*.db") if _owner_is_dead(path)]
        for kind in _SUMMED:
            _fold(folder, kind, [path for path in dead if path.name.startswith(f"{kind}_")])
        for path in dead:
            if path.name.startswith("gauge_live"):
                path.unlink(missing_ok=True)


def _owner_is_dead(path: Path) -> bool:
    match = _FILE.fullmatch(path.name)
    return match is not None and not _alive(int(match["pid"]))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _fold(folder: Path, kind: str, dead: list[Path]) -> None:
    if not dead:
        return
    # Imported here: prometheus_client picks its multiprocess mode when first imported, and
    # ops.cli imports this module before ops.metrics has named the folder (`imgpress process`).
    from prometheus_client.mmap_dict import MmapedDict

    archive = folder / f"{kind}_archive.db"
    totals: defaultdict[str, float] = defaultdict(float)
    for path in [archive, *dead] if archive.exists() else dead:
        for key, value, _timestamp, _position in MmapedDict.read_all_values_from_file(path):
            totals[key] += value
    # Written aside and renamed, so a scrape reads the old archive or the new one, never half.
    written = folder / f"{kind}_archive.part"
    written.unlink(missing_ok=True)
    values = MmapedDict(str(written))
    for key, total in totals.items():
        values.write_value(key, total, 0.0)
    values.close()
    written.replace(archive)
    # A scrape between the rename and these unlinks counts the dead files twice: a moment
    # at a start-up, against totals that would otherwise drop for good.
    for path in dead:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    # Two commands starting at once must not both fold the same dead files.
    with open(folder / ".tidy.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
