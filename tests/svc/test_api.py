"""The HTTP API through Falcon's test client: every answer JSON, precise, never a 500."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import falcon.testing
import pytest
from urllib3 import encode_multipart_formdata

from actors.runtime import current
from tests.receiver import poll

# A loopback URL nobody listens on: the worker's attempts never leave this machine.
GOOD_CSV = b"S. No, Product Name, Input URLs\n1,SKU1,http://127.0.0.1:9/a.jpg\n"


@pytest.fixture(scope="module")
def client(pipeline) -> Iterator[falcon.testing.TestClient]:
    from ops.config import load
    from svc.app import create_app

    yield falcon.testing.TestClient(create_app(load()))


def upload(
    client: falcon.testing.TestClient,
    csv: bytes | None = GOOD_CSV,
    path: str = "/upload",
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> falcon.testing.Result:
    parts: list[tuple[str, Any]] = [(name, str(value)) for name, value in fields.items()]
    if csv is not None:
        parts.append(("file", ("products.csv", csv, "text/csv")))
    body, content_type = encode_multipart_formdata(parts)
    return client.simulate_post(
        path, body=body, headers={"Content-Type": content_type, **(headers or {})}
    )


def _leftovers() -> list[str]:
    layout = current().layout

    return [p.name for p in layout.inputs.glob("*.part")]


def test_an_upload_is_accepted_with_an_absolute_location(client) -> None:
    result = upload(client, format="webp", quality="70", max_width="800")
    assert result.status_code == 202
    body = result.json
    assert body["status"] == "pending" and re.fullmatch(r"[A-Za-z0-9_-]{20,}", body["request_id"])
    assert body["status_url"] == f"http://testserver/status/{body['request_id']}"
    assert result.headers["location"] == body["status_url"]


def test_the_trailing_slash_route_accepts_too(client) -> None:
    assert upload(client, path="/upload/").status_code == 202


def test_status_shows_every_field_and_the_outputs_are_served(client, origin, worker) -> None:
    csv = f"name,url\nP1,{origin.url('/photos/coffee.jpg')}\nP2,\n".encode()
    request_id = upload(client, csv).json["request_id"]
    status = poll(
        lambda: (
            (r := client.simulate_get(f"/status/{request_id}").json)["status"] == "completed" and r
        )
    )
    assert status["progress"] == 1.0 and status["skipped_rows"] == [{"row": 3, "reason": "no URL"}]
    assert status["webhook"] is None and status["error"] is None
    assert status["completed_at"].endswith("Z")
    output = client.simulate_get(status["output_csv_url"].removeprefix("http://testserver"))
    assert output.status_code == 200 and output.headers["content-type"].startswith("text/csv")
    image_url = output.text.splitlines()[1].rsplit(",", 1)[1]
    image = client.simulate_get(image_url.removeprefix("http://testserver"))
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    report = client.simulate_get(status["report_url"].removeprefix("http://testserver"))
    assert report.text.startswith("row,product_name,input_url,output_url,status")


@pytest.mark.parametrize(
    ("fields", "csv", "status", "phrase"),
    [
        ({}, None, 400, "no 'file' field"),
        ({"quality": "0"}, GOOD_CSV, 400, "quality must be from 1 to 100"),
        ({"quality": "high"}, GOOD_CSV, 400, "quality must be a whole number"),
        ({"format": "gif"}, GOOD_CSV, 400, "format must be one of"),
        ({"max_width": "20001"}, GOOD_CSV, 400, "max_width must be from 1 to 20000"),
        ({"webhook_url": "ftp://x/y"}, GOOD_CSV, 400, "webhook_url must be an absolute http(s)"),
        ({"colour": "red"}, GOOD_CSV, 400, "unknown form field 'colour'"),
        ({"quality": "best"}, GOOD_CSV, 400, "from 1 to 100 or auto, not 'best'"),
        ({"format": "auto", "quality": "50"}, GOOD_CSV, 400, "send quality=auto or leave"),
        ({"format": "auto", "accept": "webp,gif"}, GOOD_CSV, 400, "found 'gif'"),
        ({"format": "auto", "accept": " , "}, GOOD_CSV, 400, "it names none"),
        ({"format": "jpeg", "accept": "heic"}, GOOD_CSV, 400, "among avif, webp, jpeg, png"),
        ({}, b"", 400, "empty"),
        ({}, b"name,url\n", 400, "no data rows"),
        ({}, b"sku,link\nA,http://x/y.jpg\n", 400, "sku"),
        ({}, b"name,url\nA,http://x/\xff.jpg\n", 400, "not UTF-8"),
    ],
)
def test_bad_uploads_get_a_precise_4xx_and_leave_nothing(
    client, fields, csv, status, phrase
) -> None:
    result = upload(client, csv, **fields)
    assert result.status_code == status
    assert phrase in result.json["description"]
    assert _leftovers() == []


def test_a_field_given_twice_is_refused(client) -> None:
    body, content_type = encode_multipart_formdata(
        [("quality", "10"), ("quality", "20"), ("file", ("a.csv", GOOD_CSV, "text/csv"))]
    )
    result = client.simulate_post("/upload", body=body, headers={"Content-Type": content_type})
    assert result.status_code == 400 and "more than once" in result.json["description"]


def test_a_body_that_is_not_multipart_is_415(client) -> None:
    result = client.simulate_post("/upload", json={"file": "x"})
    assert result.status_code == 415 and "multipart/form-data" in result.json["description"]


def test_a_malformed_multipart_body_is_400(client) -> None:
    result = client.simulate_post(
        "/upload",
        body=b"--xx\r\nnonsense",
        headers={"Content-Type": "multipart/form-data; boundary=xx"},
    )
    assert result.status_code == 400 and result.json["title"]


def test_a_csv_over_the_byte_cap_is_413(client) -> None:
    config = current().config

    big = b"name,url\n" + b"A,http://example.com/a.jpg\n" * (config.max_csv_bytes // 26 + 1)
    result = upload(client, big)
    assert result.status_code == 413 and "limit" in result.json["description"]
    assert _leftovers() == []


def test_too_many_rows_is_413(client) -> None:
    config = current().config

    rows = b"name,url\n" + b"A,http://e.com/a.jpg\n" * (config.max_rows + 1)
    result = upload(client, rows)
    assert result.status_code == 413 and f"{config.max_rows:,}" in result.json["description"]


def test_an_idempotency_key_replays_the_first_answer(client) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = upload(client, headers=headers, quality="60")
    again = upload(client, headers=headers, quality="60")
    other = upload(client, b"name,url\nB,http://e.com/b.jpg\n", headers=headers, quality="60")
    assert (first.status_code, again.status_code, other.status_code) == (202, 200, 422)
    assert again.json == first.json


def _age(key: str, by: timedelta) -> None:
    from pony.orm import db_session

    from storage.db import IdempotencyKey

    with db_session:
        IdempotencyKey[key].created_at -= by


def test_an_idempotency_key_older_than_24_hours_makes_a_new_job(client) -> None:
    # Given a key whose first upload was 25 hours ago
    headers = {"Idempotency-Key": f"expired-{secrets.token_hex(4)}"}
    first = upload(client, headers=headers)
    _age(headers["Idempotency-Key"], timedelta(hours=25))
    # When the same upload is sent again with that key
    again = upload(client, headers=headers)
    # Then it is a new job (contract §10), and the key now replays that one
    assert (first.status_code, again.status_code) == (202, 202), again.text
    assert again.json["request_id"] != first.json["request_id"]
    replay = upload(client, headers=headers)
    assert replay.status_code == 200 and replay.json == again.json


def test_falcon_errors_carry_a_description_too(client) -> None:
    unknown = client.simulate_get("/nowhere")
    assert unknown.status_code == 404 and "/nowhere" in unknown.json["description"]
    wrong = client.simulate_delete("/upload")
    assert wrong.status_code == 405 and wrong.json["description"]


def test_an_unknown_job_is_404(client) -> None:
    result = client.simulate_get("/status/nope")
    assert result.status_code == 404 and "nope" in result.json["description"]


def test_health_and_readiness(client) -> None:
    assert client.simulate_get("/healthz").json == {"status": "ok"}
    ready = client.simulate_get("/readyz")
    assert ready.status_code == 200 and ready.json["status"] == "ready"


def test_metrics_show_the_contract_families(client) -> None:
    client.simulate_get("/healthz")
    text = client.simulate_get("/metrics").text
    for family in (
        "imgpress_http_requests_total",
        "imgpress_http_request_duration_seconds",
        "imgpress_queue_messages",
        "imgpress_images_total",
        "imgpress_jobs_total",
        "imgpress_image_input_bytes_total",
        "imgpress_image_output_bytes_total",
        "imgpress_image_process_seconds",
    ):
        assert f"# TYPE {family}" in text, family
    assert 'route="/healthz"' in text


def _http_series(text: str) -> set[str]:
    return {
        line.rsplit(" ", 1)[0]
        for line in text.splitlines()
        if line.startswith("imgpress_http_requests_total{")
    }


# The test client checks the WSGI environ and warns of a method it does not know: that is
# the point here.
@pytest.mark.filterwarnings("ignore::wsgiref.validate.WSGIWarning")
def test_invented_methods_and_paths_fold_into_one_label_value_each(client) -> None:
    # Given an invented method sent once to an invented path and once to a real route, and a
    # scrape already counted
    client.simulate_request("BREW", "/pot-0")
    client.simulate_request("BREW", "/healthz")
    client.simulate_get("/metrics")
    before = _http_series(client.simulate_get("/metrics").text)
    # When clients send many more invented methods, to invented paths and to real routes
    invented = [(f"X{n}{secrets.token_hex(3).upper()}", f"/made-up/{n}") for n in range(8)]
    for method, path in invented:
        client.simulate_request(method, path)
        client.simulate_request(method, "/healthz")
    # Then no new series appeared, and none names what the clients made up
    text = client.simulate_get("/metrics").text
    assert _http_series(text) - before == set()
    assert not any(method in text or path in text for method, path in invented)
    assert any('method="other"' in s and 'route="unmatched"' in s for s in _http_series(text))


def test_the_openapi_document_is_valid_and_true_to_the_routes(client) -> None:
    from openapi_spec_validator import validate

    from svc.app import STATIC_PREFIXES, routes

    document = client.simulate_get("/openapi.json").json
    validate(document)
    static = {
        f"{prefix}/{{{'path' if 'images' in prefix else 'file'}}}" for prefix in STATIC_PREFIXES
    }
    assert set(document["paths"]) == set(routes(current())) | static


# format=auto, quality=auto and accept


def _stored_options(result: falcon.testing.Result) -> dict[str, Any]:
    from storage.jobs import get_job

    assert result.status_code == 202, result.json
    job = get_job(result.json["request_id"])
    assert job is not None
    return job.options


def test_format_auto_stores_auto_quality_the_accepted_formats_and_the_target(client) -> None:
    # Given an upload asking for format=auto (any case) with a loosely written accept list
    result = upload(client, format="AUTO", accept=" WebP,, jpeg ")
    # When the job is created
    options = _stored_options(result)
    # Then the job holds auto quality, the formats in a fixed order, and the target aimed at
    from actors.formats import DEFAULT_TARGET

    assert options["format"] == "auto" and options["quality"] == "auto"
    assert options["accept"] == ["webp", "jpeg"] and options["target"] == DEFAULT_TARGET


def test_format_auto_accepts_avif_webp_and_jpeg_by_default(client) -> None:
    options = _stored_options(upload(client, format="auto", quality="auto"))
    assert options["accept"] == ["avif", "webp", "jpeg"]


def test_quality_auto_works_with_a_fixed_format(client) -> None:
    options = _stored_options(upload(client, format="webp", quality="Auto"))
    assert options["format"] == "webp" and options["quality"] == "auto" and "target" in options


def test_accept_without_format_auto_is_allowed_and_has_no_effect(client) -> None:
    options = _stored_options(upload(client, format="jpeg", quality="70", accept="avif"))
    assert options["quality"] == 70 and "accept" not in options and "target" not in options


def test_the_openapi_document_describes_the_auto_fields(client) -> None:
    document = client.simulate_get("/openapi.json").json
    form = document["paths"]["/upload"]["post"]["requestBody"]["content"]["multipart/form-data"]
    fields = form["schema"]["properties"]
    assert "auto" in fields["format"]["anyOf"][0]["enum"]
    assert {"type": "string", "enum": ["auto"]} in fields["quality"]["anyOf"][0]["anyOf"]
    assert fields["accept"]["default"] == "avif,webp,jpeg"
    assert "no effect" in fields["accept"]["description"]


def test_the_report_names_the_format_auto_chose(client, origin, worker) -> None:
    # Given a job of two real photos with format=auto, WebP and JPEG accepted
    csv = (
        f"name,url\nP1,{origin.url('/photos/coffee.jpg')}\nP2,{origin.url('/photos/chelsea.png')}\n"
    ).encode()
    request_id = upload(client, csv, format="auto", accept="webp,jpeg").json["request_id"]
    # When it completes
    status = poll(
        lambda: (
            (r := client.simulate_get(f"/status/{request_id}").json)["status"] == "completed" and r
        )
    )
    # Then each report row says which accepted format was written, and the file is that format
    report = client.simulate_get(status["report_url"].removeprefix("http://testserver")).text
    rows = [line.split(",") for line in report.splitlines()[1:]]
    assert [row[4] for row in rows] == ["ok", "ok"]
    assert all(row[-1] in ("webp", "jpeg") for row in rows)
    assert all(row[3].endswith({"webp": ".webp", "jpeg": ".jpg"}[row[-1]]) for row in rows)
