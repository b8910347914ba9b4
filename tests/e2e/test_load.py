"""Load: 50 concurrent uploads of 20 images each against `imgpress up`, nothing lost."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from urllib3 import encode_multipart_formdata

from tests.e2e.service import ROOT, Service, imgpress
from tests.images import list_photos
from tests.receiver import poll

pytestmark = pytest.mark.slow

UPLOADS = 50
IMAGES_EACH = 20


def _csv(origin, upload: int) -> str:
    photos = list_photos()
    rows = [
        f"P{n},{origin.url(f'/photos/{photos[n % len(photos)]}')}?u={upload}&n={n}"
        for n in range(IMAGES_EACH)
    ]
    return "name,url\n" + "\n".join(rows) + "\n"


def _upload(service: Service, text: str) -> tuple[int, dict]:
    body, content_type = encode_multipart_formdata(
        [("file", ("load.csv", text.encode(), "text/csv"))]
    )
    answer = service.http.request(
        "POST", service.base + "/upload", body=body, headers={"Content-Type": content_type}
    )
    return answer.status, json.loads(answer.data)


def _all_done(service: Service, ids: list[str]) -> list[dict] | None:
    statuses = [json.loads(service.get(f"/status/{i}").data) for i in ids]
    return statuses if all(s["status"] in ("completed", "failed") for s in statuses) else None


def test_fifty_concurrent_uploads_all_complete_exactly(tmp_path, origin) -> None:
    # Given `imgpress up` (its output captured, to look for lock errors afterwards)
    service = Service(tmp_path / "var")
    log = tmp_path / "up.log"
    with open(log, "wb") as out:
        up = subprocess.Popen(
            imgpress("up", "--port", str(service.port)),
            env=service.env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            poll(service._ready, timeout=60, every=0.1)
            started = time.monotonic()
            # When 50 clients upload 20 images each at once
            with ThreadPoolExecutor(UPLOADS) as pool:
                answers = list(
                    pool.map(lambda n: _upload(service, _csv(origin, n)), range(UPLOADS))
                )
            statuses = poll(
                lambda: _all_done(service, [a[1]["request_id"] for a in answers]),
                timeout=600,
                every=0.5,
            )
            elapsed = time.monotonic() - started
        finally:
            up.send_signal(signal.SIGTERM)
            up.wait(timeout=60)
    # Then every upload was accepted and every job completed with exact counts
    assert [status for status, _ in answers] == [202] * UPLOADS
    assert all(s["status"] == "completed" for s in statuses)
    assert all((s["processed_images"], s["failed_images"]) == (IMAGES_EACH, 0) for s in statuses)
    text = log.read_text(errors="replace")
    assert "database is locked" not in text
    assert '" 500 ' not in text and '" 503 ' not in text  # gunicorn's access log
    images = UPLOADS * IMAGES_EACH
    print(
        f"\n{UPLOADS} uploads, {images} images in {elapsed:.1f} s: {images / elapsed:.1f} images/s"
    )
