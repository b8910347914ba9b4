"""Hostile uploads (issue 3): every malformed one gets a 4xx whose description says what to fix,
and leaves no file and no record behind. What is large but legal (a 1 MB cell, 100,000 rows, a
`file` part without a filename) is accepted.

tests/svc/test_api.py covers the plainer cases (no file, bad field values, empty file, header
only, missing columns, not UTF-8, a field repeated, not multipart, the byte cap, too many rows).
"""

from __future__ import annotations

import codecs
import http.client
import io
import json
import socket
import sqlite3
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import falcon.testing
import pytest
from urllib3 import encode_multipart_formdata

from actors.runtime import current
from svc.errors import ApiError
from svc.fields import _webhook_url
from svc.upload import MAX_FIELD_BYTES
from tests.e2e.service import Service
from tests.images import photo_bytes
from tests.receiver import poll
from tests.svc import test_api
from tests.svc.test_api import GOOD_CSV, upload

client = test_api.client  # the Falcon TestClient fixture, as test_api builds it

# --- what a rejected upload must not leave -----------------------------------------------------


@dataclass(frozen=True)
class Traces:
    """Everything an upload can leave: files in the inputs folder (partial ones included) and
    Job rows."""

    inputs: frozenset[str]
    jobs: int


def traces() -> Traces:
    from pony.orm import db_session

    from storage.db import Job

    layout = current().layout

    with db_session:
        jobs = Job.select().count()
    folder = layout.inputs
    files = frozenset(p.name for p in folder.iterdir()) if folder.exists() else frozenset()
    return Traces(files, jobs)


def assert_refused(result: falcon.testing.Result, status: int, *phrases: str) -> None:
    assert result.status_code == status, result.text
    assert result.headers["content-type"].startswith("application/json")
    assert set(result.json) == {"title", "description"}
    for phrase in phrases:
        assert phrase in result.json["description"], result.json["description"]


def post_form(
    client: falcon.testing.TestClient, body: bytes, content_type: str
) -> falcon.testing.Result:
    return client.simulate_post("/upload", body=body, headers={"Content-Type": content_type})


def _zip_of(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


TEXT = GOOD_CSV.decode()

# --- the file's content ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("csv", "phrases"),
    [
        pytest.param(
            codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
            ("not UTF-8", "UTF-16 byte order mark", "save it as UTF-8"),
            id="utf16-le-with-bom",
        ),
        pytest.param(
            codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
            ("not UTF-8", "UTF-16 byte order mark"),
            id="utf16-be-with-bom",
        ),
        # Without a BOM nothing says "UTF-16"; its NUL bytes are what give it away.
        pytest.param(
            TEXT.encode("utf-16-le"),
            ("not a CSV", "NUL byte at offset 1 (line 1)"),
            id="utf16-le-without-bom",
        ),
        pytest.param(photo_bytes("chelsea.png"), ("not a CSV", "a PNG image"), id="png"),
        pytest.param(
            _zip_of("products.csv", GOOD_CSV),
            ("not a CSV", "a ZIP archive (an .xlsx workbook?)"),
            id="zip",
        ),
        pytest.param(bytes(range(256)) * 64, ("not a CSV", "NUL byte at offset 0"), id="binary"),
        pytest.param(
            b"name,url\n\n\r\n   \n,\n\n", ("a header but no data rows",), id="blank-lines-only"
        ),
    ],
)
def test_a_file_that_is_not_a_utf8_csv_is_400_and_leaves_nothing(client, csv, phrases) -> None:
    # Given the service's files and records before
    before = traces()
    # When a file that is not a usable UTF-8 CSV is uploaded
    result = upload(client, csv)
    # Then it is refused with what is wrong, and nothing was kept
    assert_refused(result, 400, *phrases)
    assert traces() == before


def test_a_rejected_upload_does_not_claim_its_idempotency_key(client) -> None:
    # Given an upload refused for its content, sent with an Idempotency-Key
    headers = {"Idempotency-Key": "hostile-then-fixed"}
    refused = upload(client, b"name,url\n", headers=headers)
    # When the corrected file is sent again with the same key
    fixed = upload(client, headers=headers)
    # Then the key was not remembered for the refused one: the new file makes a job
    assert refused.status_code == 400
    assert fixed.status_code == 202


# --- the form's structure ----------------------------------------------------------------------


def test_a_file_part_without_a_filename_is_accepted(client) -> None:
    # Given a form whose `file` part has no filename (curl -F 'file=<products.csv' sends that);
    # the name was never used, the content is checked all the same
    body, content_type = encode_multipart_formdata([("file", GOOD_CSV)])
    assert b'name="file"\r\n' in body
    # When it is posted
    result = post_form(client, body, content_type)
    # Then the job is made
    assert result.status_code == 202 and result.json["status"] == "pending"


def test_an_empty_file_part_without_a_filename_is_400(client) -> None:
    before = traces()
    body, content_type = encode_multipart_formdata([("file", b"")])
    assert_refused(post_form(client, body, content_type), 400, "the file is empty")
    assert traces() == before


def test_a_form_with_no_parts_at_all_is_400(client) -> None:
    before = traces()
    body, content_type = encode_multipart_formdata([])
    result = post_form(client, body, content_type)
    assert_refused(result, 400, "no 'file' field", "attach the CSV as 'file'")
    assert traces() == before


@pytest.mark.parametrize("name", ["quality", "format", "webhook_url", "max_width"])
def test_a_field_value_of_2_mb_is_413_naming_the_field(client, name) -> None:
    # Given a form whose CSV is fine and one of whose fields holds 2 MB
    before = traces()
    body, content_type = encode_multipart_formdata(
        [("file", ("a.csv", GOOD_CSV, "text/csv")), (name, "9" * 2_000_000)]
    )
    # When it is posted
    result = post_form(client, body, content_type)
    # Then it is refused for that field, and the CSV already stored is taken back
    assert_refused(result, 413, f"the form field {name!r}", f"{MAX_FIELD_BYTES:,}-byte limit")
    assert traces() == before


def test_a_field_value_that_is_not_utf8_is_400(client) -> None:
    before = traces()
    body, content_type = encode_multipart_formdata(
        [("file", ("a.csv", GOOD_CSV, "text/csv")), ("format", b"jp\xffg")]
    )
    assert_refused(post_form(client, body, content_type), 400, "'format' is not UTF-8")
    assert traces() == before


def test_multipart_without_a_boundary_is_400(client) -> None:
    before = traces()
    body, _ = encode_multipart_formdata([("file", ("a.csv", GOOD_CSV, "text/csv"))])
    result = post_form(client, body, "multipart/form-data")
    assert_refused(result, 400, "Content-Type", "No boundary")
    assert traces() == before


def _big_form() -> tuple[bytes, str]:
    return encode_multipart_formdata(
        [("quality", "60"), ("file", ("a.csv", GOOD_CSV * 2000, "text/csv"))]
    )


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda body: body[: len(body) // 2], id="in-the-file"),
        pytest.param(lambda body: body[:-12], id="in-the-closing-boundary"),
        pytest.param(lambda body: body[: body.index(b"\r\n\r\n") + 2], id="in-the-first-headers"),
    ],
)
def test_a_truncated_multipart_body_is_400_and_leaves_nothing(client, cut) -> None:
    # Given a valid form, cut short
    before = traces()
    body, content_type = _big_form()
    # When what arrived is posted
    result = post_form(client, cut(body), content_type)
    # Then it is refused as cut short, and the part of the CSV already written is gone
    assert_refused(result, 400, "malformed or cut short", "closing boundary")
    assert traces() == before


def test_the_media_type_is_matched_without_regard_to_case(client) -> None:
    body, content_type = encode_multipart_formdata([("file", ("a.csv", GOOD_CSV, "text/csv"))])
    result = post_form(
        client, body, content_type.replace("multipart/form-data", "Multipart/Form-Data")
    )
    assert result.status_code == 202


@pytest.mark.parametrize(
    ("name", "value", "phrase"),
    [
        ("quality", "1_0", "whole number"),
        ("quality", "+50", "whole number"),
        ("quality", "\u0665\u0660", "whole number"),  # Arabic-Indic digits: int() takes them
        ("quality", "9" * 5000, "from 1 to 100"),  # int() refuses 4,301+ digits
        ("max_height", "0x10", "whole number"),
        ("max_height", "-1", "from 1 to 20000"),
    ],
)
def test_a_number_field_takes_plain_digits_only(client, name, value, phrase) -> None:
    before = traces()
    assert_refused(upload(client, **{name: value}), 400, name, phrase)
    assert traces() == before


def test_blank_fields_are_taken_as_left_out(client) -> None:
    # Given a form as a browser sends it, with the optional fields left empty
    result = upload(client, quality="", format=" ", max_width="", max_height="", webhook_url="")
    # Then the defaults apply and no webhook is set
    assert result.status_code == 202, result.text
    status = client.simulate_get(f"/status/{result.json['request_id']}").json
    assert status["webhook"] is None


# --- webhook_url -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("http://user:secret@127.0.0.1:9/hook", "user name or password"),
        ("http://user@127.0.0.1:9/hook", "user name or password"),
        ("http://[::1/hook", "absolute http(s) URL"),
        ("http://127.0.0.1:port/hook", "not a valid URL"),
        ("http://127.0.0.1:70000/hook", "not a valid URL"),
        ("http://hooks example.com/x", "spaces or control characters"),
        ("http://" + "a" * 64 + ".example.com/x", "not a valid domain name"),
        ("//hooks.example.com/x", "absolute http(s) URL"),
    ],
)
def test_a_webhook_url_that_cannot_be_delivered_to_is_400(client, url, phrase) -> None:
    before = traces()
    result = upload(client, webhook_url=url)
    assert_refused(result, 400, "webhook_url", phrase)
    assert "secret" not in result.json["description"]  # credentials are not echoed back
    assert traces() == before


@pytest.mark.parametrize(
    "url",
    [
        "http://0.0.0.0/hook",
        "http://[::]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:a9fe:a9fe]/hook",  # 169.254.169.254, the cloud metadata address
        "http://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
        "http://2130706433/hook",  # 127.0.0.1 in decimal
        "http://0177.0.0.1/hook",  # in octal
        "http://0x7f000001/hook",  # in hex
        "http://100.64.0.1/hook",  # carrier-grade NAT
        "http://224.0.0.1/hook",  # multicast
        "http://240.0.0.1/hook",  # reserved
        "http://[fe80::1]/hook",  # link-local
        "http://[fc00::1]/hook",  # unique local
        "https://192.168.1.10:8443/hook",
    ],
)
def test_a_webhook_url_on_a_blocked_literal_address_is_refused(url: str) -> None:
    # The in-process suite allows private URLs, so the default policy is checked here directly.
    with pytest.raises(ApiError) as refused:
        _webhook_url(url, allow_private=False)
    assert refused.value.status == 400
    assert "a loopback, private or reserved address" in refused.value.description


def test_userinfo_is_refused_whatever_the_address_policy() -> None:
    for allow_private in (False, True):
        with pytest.raises(ApiError, match="user name or password"):
            _webhook_url("https://a@hooks.example.com/x", allow_private=allow_private)


# --- status ------------------------------------------------------------------------------------


@pytest.mark.parametrize("request_id", ["%09", "%C2%85", "a%20b", "%00", "x" * 101])
def test_a_request_id_that_no_job_can_have_is_404(client, request_id) -> None:
    # Pony strips a str key ("%09" became "" and a 500), and a NUL cannot reach PostgreSQL.
    result = client.simulate_get(f"/status/{request_id}")
    assert_refused(result, 404, "no job has the request_id")


# --- large but legal ---------------------------------------------------------------------------


def test_a_1_mb_cell_is_accepted_and_kept_whole(client, origin, worker) -> None:
    # Given an otherwise ordinary CSV whose product name is 1 MB: the contract caps the file
    # (20 MiB), not its cells
    name = "N" * 1_000_000
    csv = f"name,url\n{name},{origin.url('/photos/coffee.jpg')}\n".encode()
    # When it is uploaded and processed
    result = upload(client, csv)
    assert result.status_code == 202, result.text
    request_id = result.json["request_id"]
    status = poll(
        lambda: (
            (r := client.simulate_get(f"/status/{request_id}").json)["status"] == "completed" and r
        )
    )
    # Then the image is made and the output CSV carries the cell whole
    assert (status["processed_images"], status["failed_images"]) == (1, 0)
    output = client.simulate_get(status["output_csv_url"].removeprefix("http://testserver"))
    assert output.text.splitlines()[1].startswith(name + ",")


def test_100000_rows_the_limit_are_accepted(client) -> None:
    config = current().config

    # Given exactly as many data rows as the limit, all naming one unreachable loopback URL
    # (fetched once for the whole job, so the in-process worker has little to do)
    assert config.max_rows == 100_000
    rows = b"name,url\n" + b"A,http://127.0.0.1:9/a.jpg\n" * config.max_rows
    # When they are uploaded
    result = upload(client, rows)
    # Then the job is made with every slot counted
    assert result.status_code == 202, result.text
    status = client.simulate_get(f"/status/{result.json['request_id']}").json
    assert status["total_images"] == 100_000


# --- end to end: the byte cap holds while the body streams -------------------------------------

CAP = 1_048_576  # IMGPRESS_MAX_CSV_BYTES of the service below


@pytest.fixture(scope="module")
def small_cap_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("hostile")
    with Service(folder / "var", worker=False, IMGPRESS_MAX_CSV_BYTES=str(CAP)) as running:
        yield running


def _job_count(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "imgpress.sqlite3") as database:
        return int(database.execute("SELECT count(*) FROM Job").fetchone()[0])


def _upload_head(port: int, declared: int) -> bytes:
    boundary = "hostile-boundary"
    return (
        f"POST /upload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {declared}\r\n\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="huge.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
        "name,url\r\n"
    ).encode()


@pytest.mark.slow
def test_a_csv_over_the_cap_is_refused_while_it_streams(small_cap_service: Service) -> None:
    service = small_cap_service
    # Given a client that declares a 3 MiB body and has sent only a little over the 1 MiB cap
    declared = 3 * CAP
    rows = b"A,http://127.0.0.1:9/a.jpg\r\n" * ((CAP + 256 * 1024) // 28)
    with socket.create_connection(("127.0.0.1", service.port), timeout=30) as sock:
        sock.sendall(_upload_head(service.port, declared) + rows)
        # When it stops sending and waits for an answer (every read bounded by the timeout)
        response = http.client.HTTPResponse(sock)
        response.begin()
        answer = json.loads(response.read())
    # Then the service has answered 413 although more than half of the body never came
    assert CAP < len(rows) < declared / 2
    assert response.status == 413
    assert f"over the {CAP}-byte limit" in answer["description"]
    # And the part of the CSV it had written is gone, with no job made
    assert sorted(p.name for p in (service.data_dir / "input").iterdir()) == []
    assert _job_count(service.data_dir) == 0
