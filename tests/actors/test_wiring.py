"""Wiring is explicit: importing a module connects to nothing; `bootstrap(config)` wires a
process from the Config it is given, and an actor module imported too early says so."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """`code` in a fresh interpreter whose environment points at its own data dir."""
    env = {**os.environ, "IMGPRESS_DATA_DIR": str(data_dir)}
    env.pop("IMGPRESS_REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_importing_the_api_and_the_pipeline_starts_nothing(tmp_path: Path) -> None:
    # When a process imports the app factory, the pipeline and the intake
    result = _run(
        """
        import dramatiq.broker
        import svc.app, actors.pipeline, actors.intake, actors.dispatch
        from pony.orm import core
        import storage.db
        print(dramatiq.broker.global_broker is None, storage.db.db.provider is None)
        """,
        tmp_path / "var",
    )

    # Then no broker is set, no database bound, and no embedded Redis left a socket
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]
    assert not list((tmp_path / "var").rglob("*.sock"))


def test_an_actor_module_imported_before_bootstrap_says_what_to_do(tmp_path: Path) -> None:
    result = _run("import actors.compress_image", tmp_path / "var")
    assert result.returncode != 0
    assert "call actors.runtime.bootstrap(config)" in result.stderr


def test_create_app_wires_the_process_from_the_config_it_is_given(tmp_path: Path) -> None:
    # Given a Config read from another environment than the process's own
    given = tmp_path / "given"
    result = _run(
        f"""
        import os
        from actors.runtime import current
        from ops import embedded
        from ops.config import from_env
        from svc.app import create_app
        config = from_env({{**os.environ, "IMGPRESS_DATA_DIR": {str(given)!r}}})
        create_app(config)
        wired = current()
        print(wired.config is config, wired.started_embedded_redis)
        print(embedded.is_running(config.data_dir), wired.layout.inputs.is_dir())
        embedded.stop(config.data_dir)
        """,
        tmp_path / "environment",
    )

    # Then the process runs on that Config: its own embedded Redis, its data dir
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True", "True"]
    assert str(given) in (given / "redis" / "redis.conf").read_text()
