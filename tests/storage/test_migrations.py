"""storage.migrations: a database from an earlier build starts, its rows kept.

Pony binds once per process, so each binding here runs in a process of its own, as a service's
start-up would.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import ADMIN_URL, fresh_database

_BIND = "import sys; from storage import db; db.bind(sys.argv[1])"
_ADD_ROWS = """
import sys
from datetime import datetime
from pony.orm import db_session
from storage import db
db.bind(sys.argv[1])
with db_session:
    job = db.Job(id="old-job", status="completed", created_at=datetime(2026, 1, 1),
                 options={}, total_images=1, skipped_rows=[])
    db.Image(job=job, index=0, url="https://example.com/a.jpg", slots=1, status="ok")
"""


def start(url: str, script: str = _BIND) -> subprocess.CompletedProcess[str]:
    """A process binding `url`, as `imgpress serve` or `worker` does when it starts."""
    return subprocess.run([sys.executable, "-c", script, url], capture_output=True, text=True)


def test_an_sqlite_database_without_a_newer_column_gets_it_and_keeps_its_rows(
    tmp_path: Path,
) -> None:
    # Given a database with a job and an image, from a build before Image.finished_at
    path = tmp_path / "old.sqlite3"
    url = f"sqlite:///{path}"
    assert start(url, _ADD_ROWS).returncode == 0
    with sqlite3.connect(path) as old:
        old.execute("ALTER TABLE Image DROP COLUMN finished_at")

    # When this build starts on it
    started = start(url)

    # Then it starts, says what it added, and the image is still there with no finish time
    assert started.returncode == 0, started.stderr
    assert "added the column Image.finished_at" in started.stderr
    with sqlite3.connect(path) as upgraded:
        rows = upgraded.execute("SELECT url, status, finished_at FROM Image").fetchall()
    assert rows == [("https://example.com/a.jpg", "ok", None)]

    # And the next start has nothing left to add
    again = start(url)
    assert again.returncode == 0 and "added the column" not in again.stderr


def test_a_missing_required_column_stops_the_start_with_its_name(tmp_path: Path) -> None:
    # Given a database whose Image table lacks a column no default could fill
    path = tmp_path / "foreign.sqlite3"
    url = f"sqlite:///{path}"
    assert start(url).returncode == 0
    with sqlite3.connect(path) as old:
        old.execute("ALTER TABLE Image DROP COLUMN url")

    # When this build starts on it, Then it refuses, naming the table and the column
    started = start(url)
    assert started.returncode != 0
    assert "SchemaError: the database's table Image has no column url" in started.stderr


@pytest.fixture
def postgres_database() -> Iterator[str]:
    if not ADMIN_URL:
        pytest.skip("IMGPRESS_TEST_POSTGRES_URL is not set")
    with fresh_database("imgpress_migrate") as url:
        yield url


@pytest.mark.postgres
def test_a_postgresql_database_without_a_newer_column_gets_it(postgres_database: str) -> None:
    import psycopg2

    # Given a PostgreSQL database with rows, from a build before Image.finished_at
    assert start(postgres_database, _ADD_ROWS).returncode == 0
    with psycopg2.connect(postgres_database) as old, old.cursor() as cursor:
        cursor.execute("ALTER TABLE image DROP COLUMN finished_at")

    # When this build starts on it, Then the column is back and the row kept
    started = start(postgres_database)
    assert started.returncode == 0, started.stderr
    with psycopg2.connect(postgres_database) as upgraded, upgraded.cursor() as cursor:
        cursor.execute("SELECT url, finished_at FROM image")
        assert cursor.fetchall() == [("https://example.com/a.jpg", None)]
