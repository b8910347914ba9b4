"""storage.db: binding a database URL, and what a start-up that cannot bind it says."""

from __future__ import annotations

from tests.storage.test_migrations import start


def test_a_refused_database_url_is_named_without_its_password() -> None:
    # Given a database URL this build does not support, with a password in it
    url = "postgresql+psycopg2://imgpress:s3cret-pw@db.example:5432/imgpress"
    # When a process starts on it
    started = start(url)
    # Then it stops, naming the URL with its password hidden
    assert started.returncode != 0
    assert "s3cret-pw" not in started.stderr
    assert "postgresql+psycopg2://imgpress:***@db.example:5432/imgpress" in started.stderr
