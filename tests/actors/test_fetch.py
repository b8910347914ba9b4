"""The Fetcher against a real origin on 127.0.0.1: answers, limits, redirects, connections.

Private addresses are allowed in these tests (the origin is on loopback) except where a test
shows the refusal itself. Nothing here ever connects to anything but 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from actors import guard
from actors.errors import PermanentFailure, TransientFailure
from actors.fetch import USER_AGENT, Fetcher
from ops.config import Config, from_env
from tests.origin import Framing, Origin, Route

LIMIT = 4096  # max_image_bytes in these tests

MakeFetcher = Callable[..., Fetcher]


@pytest.fixture
def origin() -> Iterator[Origin]:
    with Origin() as origin:
        yield origin


@pytest.fixture
def make_fetcher(tmp_path: Path) -> Iterator[MakeFetcher]:
    """Fetchers on a test Config; keyword arguments change Config fields."""
    made: list[Fetcher] = []

    def make(**changes: object) -> Fetcher:
        made.append(Fetcher(_config(tmp_path).with_changes(**changes)))
        return made[-1]

    yield make
    for fetcher in made:
        fetcher.close()


@pytest.fixture
def fetcher(make_fetcher: MakeFetcher) -> Fetcher:
    return make_fetcher()


def _config(tmp_path: Path) -> Config:
    return from_env(
        {
            "IMGPRESS_DATA_DIR": str(tmp_path),
            "IMGPRESS_ALLOW_PRIVATE_URLS": "1",
            "IMGPRESS_MAX_IMAGE_BYTES": str(LIMIT),
            "IMGPRESS_FETCH_TIMEOUT": "10",
        }
    )


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Answers


def test_a_200_answer_gives_the_body_and_its_content_type(origin: Origin, fetcher: Fetcher) -> None:
    # Given an origin serving a file
    origin.serve("/cat.jpg", b"\xff\xd8 not really a jpeg", "image/jpeg")

    # When it is downloaded
    download = fetcher.download(origin.url("/cat.jpg"))

    # Then the bytes and the Content-Type come back as served, with the URL they came from
    assert download.read() == b"\xff\xd8 not really a jpeg"
    assert download.content_type == "image/jpeg"
    assert download.final_url == origin.url("/cat.jpg")


def test_the_content_type_is_reported_not_judged(origin: Origin, fetcher: Fetcher) -> None:
    # Given an origin that calls its file HTML (deciding what an image is belongs to imaging)
    origin.serve("/page", b"<html>", "text/html")

    # When it is downloaded, Then it is returned as it is
    assert fetcher.download(origin.url("/page")).content_type == "text/html"


def test_the_request_names_the_host_and_imgpress(origin: Origin, fetcher: Fetcher) -> None:
    # Given a file on the origin, named through `localhost` while the socket goes to an IP
    origin.serve("/a.png", b"png")

    # When it is downloaded
    fetcher.download(origin.url("/a.png?size=big", host="localhost"))

    # Then the origin saw the name in Host, the query, and imgpress's User-Agent
    (request,) = origin.requests
    assert request.headers["Host"] == f"localhost:{origin.port}"
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.path == "/a.png?size=big"


@pytest.mark.parametrize("status", [404, 410])
def test_gone_files_fail_for_good_as_not_found(
    origin: Origin, fetcher: Fetcher, status: int
) -> None:
    # Given an origin that says the file is not there
    origin.answer("/missing.jpg", status, b"nope")

    # When it is downloaded, Then the failure is permanent: retrying cannot help
    with pytest.raises(PermanentFailure) as failure:
        fetcher.download(origin.url("/missing.jpg"))
    assert failure.value.reason == "not_found"
    assert failure.value.message == f"the origin answered {status}"


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_overload_and_server_errors_are_transient(
    origin: Origin, fetcher: Fetcher, status: int
) -> None:
    # Given an origin that is busy or broken for now
    origin.answer("/busy.jpg", status)

    # When it is downloaded, Then another attempt may succeed
    with pytest.raises(TransientFailure) as failure:
        fetcher.download(origin.url("/busy.jpg"))
    assert failure.value.reason == "upstream_error"
    assert failure.value.message == f"the origin answered {status}"


@pytest.mark.parametrize("status", [400, 401, 403])
def test_other_client_errors_are_permanent_upstream_errors(
    origin: Origin, fetcher: Fetcher, status: int
) -> None:
    # Given an origin that refuses the request
    origin.answer("/private.jpg", status)

    # When it is downloaded, Then the failure is final
    with pytest.raises(PermanentFailure) as failure:
        fetcher.download(origin.url("/private.jpg"))
    assert (failure.value.reason, failure.value.message) == (
        "upstream_error",
        f"the origin answered {status}",
    )


def test_a_url_that_is_not_http_fails_before_any_connection(fetcher: Fetcher) -> None:
    with pytest.raises(PermanentFailure) as failure:
        fetcher.download("ftp://127.0.0.1/a.jpg")
    assert failure.value.reason == "invalid_url"


# The address guard


def test_loopback_is_refused_by_default_and_nothing_reaches_the_origin(
    origin: Origin, make_fetcher: MakeFetcher
) -> None:
    # Given a fetcher with the production default: private addresses are not allowed
    origin.serve("/a.jpg", b"secret")
    fetcher = make_fetcher(allow_private_urls=False)

    # When a loopback URL is downloaded
    with pytest.raises(PermanentFailure) as failure:
        fetcher.download(origin.url("/a.jpg"))

    # Then it is blocked, and the origin never saw a request
    assert failure.value.reason == "blocked_address"
    assert origin.requests == []


def test_a_redirect_to_a_blocked_address_is_refused(
    origin: Origin, make_fetcher: MakeFetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a policy under which 127.0.0.1 counts as public but 127.0.0.2 is blocked,
    # and an allowed origin that redirects to the blocked address
    monkeypatch.setattr(guard, "is_blocked_ip", lambda address: str(address) == "127.0.0.2")
    origin.redirect("/start", f"http://127.0.0.2:{origin.port}/inside")
    fetcher = make_fetcher(allow_private_urls=False)

    # When the first URL is downloaded
    with pytest.raises(PermanentFailure) as failure:
        fetcher.download(origin.url("/start"))

    # Then the hop is checked like the first URL and refused before any connection to it
    assert failure.value.reason == "blocked_address"
    assert "127.0.0.2" in failure.value.message
    assert [request.path for request in origin.requests] == ["/start"]


# Redirects


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_followed_to_the_file(origin: Origin, fetcher: Fetcher, status: int) -> None:
    # Given a file reached through a relative redirect
    origin.redirect("/old/a.jpg", "../new/a.jpg", status)
    origin.serve("/new/a.jpg", b"moved")

    # When the old URL is downloaded
    download = fetcher.download(origin.url("/old/a.jpg"))

    # Then the file comes from where the redirect pointed
    assert download.read() == b"moved"
    assert download.final_url == origin.url("/new/a.jpg")


def test_a_redirect_loop_stops_at_the_redirect_cap(
    origin: Origin, make_fetcher: MakeFetcher
) -> None:
    # Given a URL that redirects to itself, and a cap of 3 redirects
    origin.redirect("/loop", "/loop")
    fetcher = make_fetcher(max_redirects=3)

    # When it is downloaded
    with pytest.raises(PermanentFailure) as failure:
        fetcher.download(origin.url("/loop"))

    # Then it fails for good after the first request and 3 redirected ones
    assert failure.value.reason == "too_many_redirects"
    assert len(origin.requests) == 4


def test_exactly_the_redirect_cap_is_still_followed(
    origin: Origin, make_fetcher: MakeFetcher
) -> None:
    # Given a chain of 3 redirects and a cap of 3
    for hop in range(3):
        origin.redirect(f"/{hop}", f"/{hop + 1}")
    origin.serve("/3", b"end")

    # When the chain's start is downloaded, Then the file at its end arrives
    assert make_fetcher(max_redirects=3).download(origin.url("/0")).read() == b"end"


# Byte cap


def test_a_content_length_over_the_cap_is_refused_without_reading_the_body(
    origin: Origin, fetcher: Fetcher
) -> None:
    # Given an origin announcing too large a body, then sending nothing at all: a fetcher
    # that tried to read the body would wait for its timeout instead of failing at once
    origin.route("/huge.jpg", Route(content_length=LIMIT + 1, stall=True))

    # When it is downloaded
    with pytest.raises(PermanentFailure) as failure:
        fetcher.download(origin.url("/huge.jpg"))

    # Then the header alone decides
    assert failure.value.reason == "too_large"
    assert f"Content-Length is {LIMIT + 1}" in failure.value.message


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_a_body_without_content_length_is_cut_off_past_the_cap(
    origin: Origin, fetcher: Fetcher, framing: Framing
) -> None:
    # Given an origin streaming a large body whose size it never announced
    origin.route("/stream.jpg", Route(body=bytes(LIMIT * 50), framing=framing))

    # When it is downloaded, Then the download stops once the cap is passed
    with pytest.raises(PermanentFailure) as failure:
        fetcher.download(origin.url("/stream.jpg"))
    assert failure.value.reason == "too_large"


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_a_body_of_exactly_the_cap_is_accepted(
    origin: Origin, fetcher: Fetcher, framing: Framing
) -> None:
    origin.route("/full.jpg", Route(body=b"x" * LIMIT, framing=framing))

    assert len(fetcher.download(origin.url("/full.jpg")).read()) == LIMIT


def _open_temporary_files() -> set[tuple[str, str]]:
    """(descriptor, target) of the unlinked temporary files this process holds open."""
    held = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the listing's own descriptor, closed by now
        if target.startswith(tempfile.gettempdir()) and target.endswith("(deleted)"):
            held.add((fd, target))
    return held


def test_a_large_body_waits_on_disk_and_a_small_one_in_memory(
    origin: Origin, make_fetcher: MakeFetcher
) -> None:
    # Given a cap well above two bodies, one over the in-memory size and one under it
    fetcher = make_fetcher(max_image_bytes=8 * 1024 * 1024)
    large, small = bytes(range(256)) * 8192, b"small body"  # 2 MiB and 10 bytes
    origin.serve("/large.jpg", large)
    origin.serve("/small.jpg", small)
    before = _open_temporary_files()  # pytest's own capture files, say

    # When both are downloaded and held
    with (
        fetcher.download(origin.url("/large.jpg")) as held_large,
        fetcher.download(origin.url("/small.jpg")) as held_small,
    ):
        # Then exactly one more unlinked temporary file is open: a crash leaves nothing behind
        assert len(_open_temporary_files() - before) == 1
        assert (held_small.read(), held_small.size) == (small, len(small))
        assert (held_large.read(), held_large.size) == (large, len(large))

    # And closing the downloads frees it
    assert _open_temporary_files() - before == set()


# Content-Length values that are not one decimal number in ASCII digits, as the bytes arrive:
# http.client decodes headers as Latin-1, so "²" is U+00B2 (str.isdigit() says yes, int() says
# no), and UTF-8 Arabic-Indic or fullwidth digits (which int() would read) arrive as Latin-1.
_MALFORMED_LENGTHS = [
    "\u00b2",
    "1\u00b2",
    "\u0661\u0662\u0663".encode().decode("latin-1"),
    "\uff11\uff12".encode().decode("latin-1"),
    "12, 13",
    "-5",
    "",
]


@pytest.mark.parametrize("announced", _MALFORMED_LENGTHS)
def test_a_malformed_content_length_is_a_broken_answer_for_good(
    origin: Origin, fetcher: Fetcher, announced: str
) -> None:
    # Given an origin whose Content-Length is not one number in ASCII digits
    origin.route(
        "/odd.jpg",
        Route(body=b"x" * 10, headers={"Content-Length": announced}, framing="close"),
    )

    # When it is downloaded
    with pytest.raises(PermanentFailure) as failure:
        fetcher.download(origin.url("/odd.jpg"))

    # Then the origin's answer is malformed: the same URL would answer the same way again
    assert failure.value.reason == "upstream_error"
    assert "invalid Content-Length" in failure.value.message


def test_repeated_equal_content_lengths_are_one_length(origin: Origin, fetcher: Fetcher) -> None:
    # Given an origin that repeats its (true) Content-Length, as RFC 9110 allows
    origin.route(
        "/twice.jpg", Route(body=b"x" * 10, headers={"Content-Length": "10, 10"}, framing="close")
    )

    # When it is downloaded, Then the body arrives whole
    assert fetcher.download(origin.url("/twice.jpg")).read() == b"x" * 10


def test_a_local_disk_error_while_spooling_is_ours_and_transient(
    origin: Origin, make_fetcher: MakeFetcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a body too large to keep in memory, and a temporary directory that cannot hold a
    # file: its parent is a regular file, which fails even as root (ENOTDIR)
    fetcher = make_fetcher(max_image_bytes=8 * 1024 * 1024)
    origin.serve("/large.jpg", bytes(2 * 1024 * 1024))
    (tmp_path / "not-a-folder").write_bytes(b"")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "not-a-folder" / "tmp"))

    # When it is downloaded
    with pytest.raises(TransientFailure) as failure:
        fetcher.download(origin.url("/large.jpg"))

    # Then the failure is local and may pass on another attempt; the origin is not blamed
    assert failure.value.reason == "internal_error"
    assert "local disk" in failure.value.message
    assert "127.0.0.1" not in failure.value.message


def test_a_body_shorter_than_its_content_length_is_transient(
    origin: Origin, fetcher: Fetcher
) -> None:
    # Given an origin whose Content-Length promises more than it sends before closing
    origin.route("/cut.jpg", Route(body=b"half", content_length=100))

    # When it is downloaded, Then the broken transfer may succeed on another attempt
    with pytest.raises(TransientFailure) as failure:
        fetcher.download(origin.url("/cut.jpg"))
    assert failure.value.reason == "upstream_error"


# Time


def test_a_dripping_body_is_cut_off_at_the_attempts_deadline(
    origin: Origin, make_fetcher: MakeFetcher
) -> None:
    # Given an origin that sends its body a byte at a time, each in good time for a per-read
    # timeout, and a one-second deadline for the whole attempt
    origin.route("/slow.jpg", Route(body=b"x" * 1000, drip=0.05))
    fetcher = make_fetcher(fetch_timeout=1.0)

    # When it is downloaded, Then the attempt ends as a timeout
    with pytest.raises(TransientFailure) as failure:
        fetcher.download(origin.url("/slow.jpg"))
    assert failure.value.reason == "timeout"


def test_dripping_headers_are_cut_off_too(origin: Origin, make_fetcher: MakeFetcher) -> None:
    # Given an origin that drips even its status line and headers
    origin.route(
        "/slower.jpg", Route(body=b"x", headers={"X-Pad": "p" * 500}, drip=0.05, drip_head=True)
    )
    fetcher = make_fetcher(fetch_timeout=1.0)

    # When it is downloaded, Then the attempt ends as a timeout
    with pytest.raises(TransientFailure) as failure:
        fetcher.download(origin.url("/slower.jpg"))
    assert failure.value.reason == "timeout"


def test_a_name_lookup_that_hangs_is_cut_off_at_the_attempts_deadline(
    origin: Origin, tmp_path: Path
) -> None:
    # Given a resolver that does not answer (a DNS server that never replies), bounded only
    # so that a fetcher waiting for it still ends the test, and a half-second deadline
    answer = threading.Event()

    def hanging_lookup(host: str, port: int, **kwargs: Any) -> list[tuple[Any, ...]]:
        answer.wait(timeout=5)
        return socket.getaddrinfo("127.0.0.1", port, **kwargs)

    origin.serve("/cat.jpg", b"cat")
    fetcher = Fetcher(_config(tmp_path).with_changes(fetch_timeout=0.5), lookup=hanging_lookup)
    started = time.monotonic()

    # When an image on a name it must resolve is downloaded
    try:
        with pytest.raises(TransientFailure) as failure:
            fetcher.download(origin.url("/cat.jpg", host="images.example"))
        elapsed = time.monotonic() - started
    finally:
        answer.set()
        fetcher.close()

    # Then the attempt ends as a timeout at its deadline, before any request is made
    assert 0.5 <= elapsed < 2.5
    assert failure.value.reason == "timeout"
    assert "could not resolve images.example within 0.5 s" in failure.value.message
    assert origin.requests == []


def test_a_refused_connection_is_transient(fetcher: Fetcher) -> None:
    # Given a port nobody listens on
    url = f"http://127.0.0.1:{_closed_port()}/a.jpg"

    # When it is downloaded, Then the failure may pass
    with pytest.raises(TransientFailure) as failure:
        fetcher.download(url)
    assert failure.value.reason == "upstream_error"
    assert "could not connect" in failure.value.message


# Connections


def test_downloads_from_one_host_share_one_connection(origin: Origin, fetcher: Fetcher) -> None:
    # Given several files on one origin
    for name in "abc":
        origin.serve(f"/{name}.jpg", name.encode() * 10)

    # When they are downloaded one after another
    bodies = [fetcher.download(origin.url(f"/{name}.jpg")).read() for name in "abc"]

    # Then each arrived, over a single kept-alive connection
    assert bodies == [b"a" * 10, b"b" * 10, b"c" * 10]
    assert len(origin.connections) == 1


def test_an_abandoned_response_never_serves_the_next_download(
    origin: Origin, fetcher: Fetcher
) -> None:
    # Given a too-large file whose body is left unread, and a normal file on the same origin
    origin.route("/huge.jpg", Route(body=bytes(LIMIT * 4), headers={"X-Kind": "huge"}))
    origin.serve("/small.jpg", b"small")

    # When the large one is refused and the small one fetched next
    with pytest.raises(PermanentFailure):
        fetcher.download(origin.url("/huge.jpg"))
    download = fetcher.download(origin.url("/small.jpg"))

    # Then the small one arrives whole, on a fresh connection: the half-read one was closed
    assert download.read() == b"small"
    assert len(origin.connections) == 2


def test_threads_share_one_fetcher(origin: Origin, fetcher: Fetcher) -> None:
    # Given many files, and eight threads (a Dramatiq worker's default) sharing a fetcher
    for number in range(40):
        origin.serve(f"/{number}.jpg", str(number).encode() * 50)

    # When they download all files at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        bodies = list(
            pool.map(lambda n: fetcher.download(origin.url(f"/{n}.jpg")).read(), range(40))
        )

    # Then every thread got its own file, and connections were reused, not one per file
    assert bodies == [str(number).encode() * 50 for number in range(40)]
    assert len(origin.connections) <= 8


# Webhook POSTs


@pytest.mark.parametrize("status", [200, 204, 410, 500])
def test_post_json_sends_the_body_and_returns_the_status(
    origin: Origin, fetcher: Fetcher, status: int
) -> None:
    # Given a receiver answering with some status
    origin.answer("/hook", status, b"{}")

    # When a JSON body is posted
    answer = fetcher.post_json(
        origin.url("/hook"), b'{"a": 1}', {"Content-Type": "application/json", "webhook-id": "m1"}
    )

    # Then the status is returned, and the receiver got the body and the headers
    assert answer == status
    (request,) = origin.requests
    assert (request.method, request.body) == ("POST", b'{"a": 1}')
    assert request.headers["webhook-id"] == "m1"
    assert request.headers["Content-Type"] == "application/json"


def test_post_json_does_not_follow_redirects(origin: Origin, fetcher: Fetcher) -> None:
    # Given a receiver that redirects elsewhere
    origin.redirect("/hook", "/elsewhere")
    origin.answer("/elsewhere", 200)

    # When a body is posted, Then the redirect is the answer
    assert fetcher.post_json(origin.url("/hook"), b"{}", {}) == 302
    assert [request.path for request in origin.requests] == ["/hook"]


def test_post_json_to_loopback_is_refused_by_default(
    origin: Origin, make_fetcher: MakeFetcher
) -> None:
    origin.answer("/hook", 200)

    with pytest.raises(PermanentFailure) as failure:
        make_fetcher(allow_private_urls=False).post_json(origin.url("/hook"), b"{}", {})

    assert failure.value.reason == "blocked_address"
    assert origin.requests == []


def test_post_json_to_a_closed_port_is_transient(fetcher: Fetcher) -> None:
    with pytest.raises(TransientFailure):
        fetcher.post_json(f"http://127.0.0.1:{_closed_port()}/hook", b"{}", {})


def test_post_json_to_a_silent_receiver_times_out(
    origin: Origin, make_fetcher: MakeFetcher
) -> None:
    # Given a receiver that never finishes its answer, and a one-second webhook timeout
    origin.route("/hook", Route(drip=0.05, drip_head=True))
    fetcher = make_fetcher(webhook_timeout=1.0)

    # When a body is posted, Then the POST ends as a timeout
    with pytest.raises(TransientFailure) as failure:
        fetcher.post_json(origin.url("/hook"), b"{}", {})
    assert failure.value.reason == "timeout"


# HTTPS: the socket goes to the checked IP, the certificate is checked against the name


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for `localhost` (and only that name)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2"]
        + ["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_origin(certificate: tuple[Path, Path]) -> Iterator[Origin]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with Origin(tls=context) as origin:
        yield origin


def _trusting(certificate: tuple[Path, Path], tmp_path: Path) -> Fetcher:
    trusted = ssl.create_default_context(cafile=str(certificate[0]))
    return Fetcher(_config(tmp_path), ssl_context=trusted)


def test_https_checks_the_certificate_against_the_urls_name(
    tls_origin: Origin, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    # Given an HTTPS origin whose certificate names `localhost`, trusted by the fetcher
    tls_origin.serve("/a.jpg", b"over tls")
    fetcher = _trusting(certificate, tmp_path)

    # When it is downloaded by that name (connecting to the resolved 127.0.0.1)
    try:
        download = fetcher.download(tls_origin.url("/a.jpg", host="localhost"))
    finally:
        fetcher.close()

    # Then the certificate matched the name, and the body arrived
    assert download.read() == b"over tls"


def test_https_refuses_a_certificate_for_another_name(
    tls_origin: Origin, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    # Given the same origin reached by its IP, which its certificate does not name
    tls_origin.serve("/a.jpg", b"over tls")
    fetcher = _trusting(certificate, tmp_path)

    # When it is downloaded, Then the mismatch is final
    with pytest.raises(PermanentFailure) as failure:
        try:
            fetcher.download(tls_origin.url("/a.jpg"))
        finally:
            fetcher.close()
    assert failure.value.reason == "upstream_error"
    assert "certificate" in failure.value.message


def test_https_refuses_a_certificate_nobody_vouches_for(
    tls_origin: Origin, fetcher: Fetcher
) -> None:
    # Given a self-signed certificate the system's authorities do not know
    tls_origin.serve("/a.jpg", b"over tls")

    # When it is downloaded with the default trust store, Then it fails for good
    with pytest.raises(PermanentFailure) as failure:
        fetcher.download(tls_origin.url("/a.jpg", host="localhost"))
    assert failure.value.reason == "upstream_error"
