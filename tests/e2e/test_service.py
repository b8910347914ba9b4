"""End to end on real parts: gunicorn, a Dramatiq worker process, the embedded Redis, a
loopback origin of real photographs and a loopback webhook receiver."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from urllib3 import encode_multipart_formdata

from actors.webhooks import verify
from ops import embedded
from tests.conftest import TEST_SECRET
from tests.e2e.service import Service
from tests.images import list_photos, open_image, photo_bytes
from tests.receiver import Receiver, poll

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("service")
    with Service(folder / "var", IMGPRESS_WEBHOOK_SECRET=TEST_SECRET) as running:
        yield running


def post_csv(service: Service, text: str, **fields: str) -> dict:
    parts = [*fields.items(), ("file", ("products.csv", text.encode(), "text/csv"))]
    body, content_type = encode_multipart_formdata(parts)
    answer = service.http.request(
        "POST", service.base + "/upload", body=body, headers={"Content-Type": content_type}
    )
    assert answer.status == 202, answer.data
    return json.loads(answer.data)


def wait_completed(service: Service, status_url: str) -> dict:
    def done() -> dict | None:
        status = json.loads(service.get(status_url).data)
        return status if status["status"] in ("completed", "failed") else None

    return poll(done, timeout=120, every=0.1)


def _catalogue(origin, rows: int) -> tuple[str, dict[str, tuple[int, int]]]:
    """Rows cycling through the photos (so URLs repeat), three URLs a row, one 404 row."""
    photos = list_photos()
    sizes = {origin.url(f"/photos/{p}"): open_image(photo_bytes(p)).size for p in photos}
    urls = list(sizes)
    lines = ["S. No, Product Name, Input URLs"]
    for n in range(rows):
        picked = [urls[(n + k) % len(urls)] for k in range(3)]
        lines.append(f'{n + 1},SKU{n},"{", ".join(picked)}"')
    lines.append(f"{rows + 1},BROKEN,{origin.url('/missing.jpg')}")
    return "\n".join(lines) + "\n", sizes


def test_a_large_upload_completes_in_place_and_the_signed_webhook_verifies(service, origin) -> None:
    # Given 60 rows of 3 URLs over 6 photos, and a webhook receiver
    text, sizes = _catalogue(origin, rows=60)
    earlier = len(origin.requests)  # the origin is shared by the whole session
    with Receiver([200]) as receiver:
        # When the CSV is uploaded to the running service
        accepted = post_csv(service, text, webhook_url=receiver.url)
        status = wait_completed(service, accepted["status_url"])
        [delivery] = receiver.wait_for(1)
    # Then every slot is counted, the webhook is signed and agrees with /status
    assert (status["status"], status["total_images"]) == ("completed", 181)
    assert (status["processed_images"], status["failed_images"]) == (180, 1)
    verify(TEST_SECRET, delivery.headers, delivery.body)
    hook = json.loads(delivery.body)
    assert hook["type"] == "job.completed" and hook["output_csv_url"] == status["output_csv_url"]
    # And each distinct URL was fetched once, and every output image sits in its own slot
    fetched = Counter(r.path for r in origin.requests[earlier:] if r.path.startswith("/photos/"))
    assert len(fetched) == len(sizes) and set(fetched.values()) == {1}
    output = list(csv.reader(io.StringIO(service.get(status["output_csv_url"]).data.decode())))
    assert output[0][-1] == "Output Image Urls"
    _check_slots(service, output[1:], sizes)


def _check_slots(
    service: Service, rows: list[list[str]], sizes: dict[str, tuple[int, int]]
) -> None:
    decoded: dict[str, tuple[int, int]] = {}
    for row in rows:
        inputs = [u.strip() for u in row[2].split(",")]
        outputs = row[3].split(",")
        assert len(outputs) == len(inputs)
        for given, made in zip(inputs, outputs, strict=True):
            if given not in sizes:
                assert made == ""  # the 404 leaves its slot empty
                continue
            if made not in decoded:
                answer = service.get(made)
                assert answer.status == 200
                decoded[made] = open_image(answer.data).size
            assert decoded[made] == sizes[given]


def test_the_api_scrape_includes_the_workers_figures(service, origin) -> None:
    accepted = post_csv(service, f"name,url\nA,{origin.url('/photos/rocket.jpg')}\n")
    wait_completed(service, accepted["status_url"])
    text = service.get("/metrics").data.decode()
    ok_line = next(
        line for line in text.splitlines() if line.startswith('imgpress_images_total{outcome="ok"}')
    )
    assert float(ok_line.split()[-1]) >= 1  # counted in a worker process, shown by the API
    assert 'imgpress_queue_messages{queue="images"}' in text


def test_readyz_answers_503_while_redis_is_down(service) -> None:
    embedded.stop(service.data_dir)
    try:
        answer = poll(lambda: (r := service.get("/readyz")).status == 503 and r)
        assert "redis" in json.loads(answer.data)["failures"]
    finally:
        embedded.ensure_running(service.data_dir)
    poll(lambda: service.get("/readyz").status == 200)


def test_imgpress_process_writes_outputs_relative_to_out(tmp_path: Path, origin) -> None:
    import subprocess

    from tests.e2e.service import ROOT, imgpress, service_env

    source = tmp_path / "shop.csv"
    source.write_text(
        f"name,url\nA,{origin.url('/photos/coffee.jpg')}\nB,{origin.url('/missing.jpg')}\n"
    )
    out = tmp_path / "out"
    env = service_env(tmp_path / "state", 8000)
    done = subprocess.run(
        imgpress("process", str(source), "--out", str(out), "--format", "webp"),
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert not embedded.is_running(tmp_path / "state")  # it stops the Redis it started
    rows = list(csv.reader((out / "shop.output.csv").open()))
    made = rows[1][-1]
    assert made.startswith("images/") and made.endswith(".webp")
    assert open_image((out / made).read_bytes()).format == "WEBP"
    assert rows[2][-1] == ""
    assert "not_found" in (out / "shop.report.csv").read_text()
