"""The PostgreSQL path: the whole service on a fresh database of the local server.

Runs when IMGPRESS_TEST_POSTGRES_URL names a server (CI sets it when one answers); the
default suite stays on SQLite so that it needs no external service.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.service import Service
from tests.e2e.test_service import post_csv, wait_completed
from tests.postgres import ADMIN_URL, fresh_database

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(not ADMIN_URL, reason="IMGPRESS_TEST_POSTGRES_URL is not set"),
]


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with fresh_database("imgpress_test") as url:
        yield url


def test_a_job_completes_on_postgresql(tmp_path, origin, database) -> None:
    from tests.receiver import Receiver

    with (
        Service(tmp_path / "var", IMGPRESS_DATABASE_URL=database) as service,
        Receiver([200]) as receiver,
    ):
        photos = [origin.url(f"/photos/{n}") for n in ("coffee.jpg", "rocket.jpg")]
        missing = origin.url("/missing.jpg")
        text = (
            f'name,url\nA,"{photos[0]}, {photos[1]}"\nB,{photos[0]}\nC,{missing}\n'
            "D,ftp://x.test/not-fetched.jpg\n"  # failed by the split itself
        )
        status = wait_completed(
            service, post_csv(service, text, webhook_url=receiver.url)["status_url"]
        )
        receiver.wait_for(1)
        assert (status["status"], status["total_images"]) == ("completed", 5)
        assert (status["processed_images"], status["failed_images"]) == (3, 2)
        again = json.loads(service.get(f"/status/{status['request_id']}").data)
        assert again["webhook"]["state"] in ("pending", "delivered")
    _assert_rows_in_postgres(database, status["request_id"])


def _assert_rows_in_postgres(url: str, job_id: str) -> None:
    import psycopg2

    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute('SELECT status FROM "job" WHERE id = %s', (job_id,))
        assert cursor.fetchone() == ("completed",)
        cursor.execute(
            'SELECT count(*) FROM "image" i JOIN "job" j ON i.job = j.id WHERE j.id = %s', (job_id,)
        )
        assert cursor.fetchone() == (4,)
