"""Hostile origins and hostile images through the real pipeline (issue 3).

Each case is a URL on the session's loopback origin that misbehaves, or serves something that
only pretends to be an image (or a real image in an unusual form). They go through jobs on the
real Redis, database and Dramatiq worker, with this suite's settings: 25 MiB and 50 MP caps,
one retry, a 10 s deadline per attempt. Every image must end `ok` or `failed` with its reason
from the fixed vocabulary, each job must end `completed` with exact counts, and the worker
must go on working afterwards.
"""

from __future__ import annotations

import csv
import gzip
import io
import secrets
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image

from actors.errors import PermanentFailure
from actors.imaging import JobOptions, compress
from actors.runtime import current
from tests.images import (
    RED,
    animated_gif,
    cmyk_jpeg,
    corrupt_png,
    ico_wrapping,
    jpeg_claiming_size,
    make_png_palette_transparent,
    open_image,
    photo_bytes,
    png_16bit_grey,
    png_claiming_size,
    png_with_text_bomb,
    truncated_jpeg,
)
from tests.jobs import submit, wait_until_announced
from tests.origin import Route

MAX_IMAGE_BYTES = 25 * 1024 * 1024  # IMGPRESS_MAX_IMAGE_BYTES's default, as in this suite
MAX_REDIRECTS = 5  # Config.max_redirects
OVERSIZED = bytes(MAX_IMAGE_BYTES + 1024 * 1024)  # 26 MiB: loopback sends it in a blink
BOMB_SIDE = 20_000
PNG_BOMB = png_claiming_size(BOMB_SIDE, BOMB_SIDE)
ICO_BOMB = ico_wrapping(PNG_BOMB)

HTML = b"<!doctype html><html><head><title>Not Found</title></head><body>gone</body></html>"
SVG = (
    b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&x;</text></svg>'
)
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n(/etc/passwd) (r) file\nshowpage\n"


@dataclass(frozen=True)
class Case:
    """One hostile URL: what the origin does there, and what the report must say."""

    name: str
    route: Route
    status: str  # "ok" | "failed"
    reason: str = ""  # for a failure: how the report's error starts
    format: str = ""  # for a success: the output's format
    requests: int = 1  # how many times the origin must have been asked


def _as(kind: str, body: bytes, headers: dict[str, str] | None = None, **route: Any) -> Route:
    """A route serving `body` as `kind`, with more headers and misbehaviour if given."""
    return Route(body=body, headers={"Content-Type": kind, **(headers or {})}, **route)


def _failing(name: str, route: Route, reason: str, requests: int = 1) -> Case:
    return Case(name, route, "failed", reason=reason, requests=requests)


def _compressed(name: str, route: Route, fmt: str) -> Case:
    return Case(name, route, "ok", format=fmt)


def _fast_cases(prefix: str) -> list[Case]:
    gzip_bomb = gzip.compress(OVERSIZED, 9)  # about 26 KB on the wire
    return [
        # The byte cap, however the size is (or is not) announced
        _failing("too-large-length", _as("image/jpeg", OVERSIZED), "too_large"),
        _failing("too-large-chunked", _as("image/jpeg", OVERSIZED, framing="chunked"), "too_large"),
        _failing("too-large-close", _as("image/jpeg", OVERSIZED, framing="close"), "too_large"),
        _failing(
            "too-large-announced-then-silent",
            Route(content_length=MAX_IMAGE_BYTES + 1, stall=True),
            "too_large",
        ),
        _failing(
            "gzip-bomb",
            _as("image/png", gzip_bomb, headers={"Content-Encoding": "gzip"}),
            "too_large",
        ),
        # Content-Length lies: promising more than comes is a broken transfer (retried once);
        # promising less cuts the file short, and a cut file is no image
        _failing(
            "short-body",
            _as("image/png", photo_bytes("chelsea.png")[:1000], content_length=5000),
            "upstream_error",
            requests=2,
        ),
        _failing(
            "long-body",
            _as("image/png", photo_bytes("chelsea.png"), content_length=1000),
            "not_an_image",
        ),
        # Redirects
        _failing(
            "redirect-loop",
            Route(status=302, headers={"Location": f"{prefix}/redirect-loop"}),
            "too_many_redirects",
            requests=1 + MAX_REDIRECTS,
        ),
        _failing(
            "redirect-to-file",
            Route(status=302, headers={"Location": "file:///etc/passwd"}),
            "invalid_url",
        ),
        # Decompression bombs: pixels declared in a header, and metadata that inflates
        _failing("png-bomb", _as("image/png", PNG_BOMB), "too_many_pixels"),
        _failing(
            "jpeg-bomb", _as("image/jpeg", jpeg_claiming_size(60_000, 60_000)), "too_many_pixels"
        ),
        _failing("png-text-bomb", _as("image/png", png_with_text_bomb(64 << 20)), "not_an_image"),
        # An icon whose 256×256 entry holds a PNG declaring 20000×20000: icons are not taken
        _failing("ico-bomb", _as("image/x-icon", ICO_BOMB), "not_an_image"),
        # Not (whole) images
        _failing("truncated-jpeg", _as("image/jpeg", truncated_jpeg()), "not_an_image"),
        _failing("corrupt-png", _as("image/png", corrupt_png()), "not_an_image"),
        _failing("random-bytes", _as("image/jpeg", bytes(range(256)) * 64), "not_an_image"),
        _failing("html-as-jpeg", _as("image/jpeg", HTML), "not_an_image"),
        _failing("svg-with-entity", _as("image/svg+xml", SVG), "not_an_image"),
        _failing("eps", _as("image/jpeg", EPS), "not_an_image"),
        _failing("empty", _as("image/jpeg", b""), "not_an_image"),
        # Answers
        _failing("not-found", Route(status=404, body=HTML), "not_found"),
        _failing("server-error", Route(status=500, body=HTML), "upstream_error", requests=2),
        *_unusual_cases(),
    ]


def _unusual_cases() -> list[Case]:
    """Real images in forms a careless decoder gets wrong; they must compress correctly."""
    return [
        _compressed("animated-gif", _as("image/gif", animated_gif()), "png"),
        _compressed("cmyk-jpeg", _as("image/jpeg", cmyk_jpeg()), "jpeg"),
        _compressed("png-16-bit", _as("image/png", png_16bit_grey()), "png"),
        _compressed("palette-png", _as("image/png", make_png_palette_transparent(64, 32)), "png"),
    ]


def _slow_cases() -> list[Case]:
    # Each read comes in good time for a per-read timeout; only the attempt's deadline (10 s)
    # ends them. A timeout is transient, so each is tried twice.
    return [
        _failing("drip-body", _as("image/jpeg", b"x" * 100, drip=0.5), "timeout", requests=2),
        _failing(
            "drip-head",
            _as("image/jpeg", b"x", headers={"X-Pad": "p" * 100}, drip=0.5, drip_head=True),
            "timeout",
            requests=2,
        ),
        _failing("stall", _as("image/jpeg", b"", content_length=1000, stall=True), "timeout", 2),
    ]


# Helpers


@pytest.fixture
def prefix() -> str:
    """A path of the session's origin that no other test uses."""
    return f"/hostile-{secrets.token_hex(4)}"


def _serve(origin: Any, prefix: str, cases: list[Case]) -> None:
    for case in cases:
        origin.route(f"{prefix}/{case.name}", case.route)


def _csv(origin: Any, prefix: str, cases: list[Case]) -> str:
    lines = ["Product Name,Image URL"]
    lines += [f"{case.name},{origin.url(f'{prefix}/{case.name}')}" for case in cases]
    return "\n".join(lines) + "\n"


def _report(job_id: str) -> dict[str, dict[str, str]]:
    """The report's lines by product name (each case is one product)."""
    layout = current().layout

    text = layout.report_csv(job_id).read_text(encoding="utf-8")
    return {line["product_name"]: line for line in csv.DictReader(io.StringIO(text))}


def _requests_per_case(origin: Any, prefix: str) -> Counter[str]:
    return Counter(
        request.path.removeprefix(f"{prefix}/")
        for request in origin.requests
        if request.path.startswith(f"{prefix}/")
    )


def _output(line: dict[str, str]) -> Image.Image:
    layout = current().layout

    return open_image(layout.image(line["output_url"].split("/output_images/")[1]).read_bytes())


def _run(origin: Any, prefix: str, cases: list[Case], **options: Any) -> tuple[Any, dict]:
    _serve(origin, prefix, cases)
    job = wait_until_announced(submit(_csv(origin, prefix, cases), **options), timeout=120)
    return job, _report(job.id)


def _assert_outcomes(job: Any, report: dict[str, dict[str, str]], cases: list[Case]) -> None:
    failed = sum(case.status == "failed" for case in cases)
    assert (job.status, job.error) == ("completed", None)
    assert (job.total_images, job.processed_images, job.failed_images) == (
        len(cases),
        len(cases) - failed,
        failed,
    )
    got = {
        name: (line["status"], line["error"].split(":")[0], line["format"])
        for name, line in report.items()
    }
    expected = {case.name: (case.status, case.reason, case.format) for case in cases}
    assert got == expected


def _assert_worker_alive(worker: Any, origin: Any) -> None:
    # Every worker thread still runs, and a normal job after the hostile ones completes
    assert worker.workers and all(thread.is_alive() for thread in worker.workers)
    url = origin.url("/photos/coffee.jpg")
    job = wait_until_announced(submit(f"Product,URL\nafter,{url}\n"))
    assert (job.status, job.processed_images, job.failed_images) == ("completed", 1, 0)


# Tests


def test_hostile_origins_and_images_each_end_with_their_reason(
    origin: Any, worker: Any, prefix: str
) -> None:
    # Given one job whose every URL misbehaves or serves a hostile or unusual image
    cases = _fast_cases(prefix)
    # When it runs
    job, report = _run(origin, prefix, cases)
    # Then the job completes with exact counts, each image with its status and reason
    _assert_outcomes(job, report, cases)
    # And limits and permanent failures were final at once, transient ones retried once
    assert _requests_per_case(origin, prefix) == {case.name: case.requests for case in cases}
    # And the bombs were judged by their headers, the icon refused as a format
    assert "20000×20000 = 400 MP, over the 50 MP limit" in report["png-bomb"]["error"]
    assert len(PNG_BOMB) < 100
    assert report["ico-bomb"]["error"] == "not_an_image: not a recognised image format"
    # And the worker lives on
    _assert_worker_alive(worker, origin)


def test_unusual_real_images_come_out_correct(origin: Any, worker: Any, prefix: str) -> None:
    # Given an animated GIF, a CMYK JPEG, a 16-bit PNG and a transparent palette PNG
    cases = _unusual_cases()
    # When they are compressed keeping their formats
    job, report = _run(origin, prefix, cases)
    _assert_outcomes(job, report, cases)
    # Then the GIF is a still PNG of its first (red) frame
    gif = _output(report["animated-gif"])
    assert (gif.format, gif.size, getattr(gif, "n_frames", 1)) == ("PNG", (32, 24), 1)
    assert gif.convert("RGB").getpixel((16, 12)) == RED
    # And the CMYK JPEG is an RGB JPEG of the same size
    cmyk = _output(report["cmyk-jpeg"])
    assert (cmyk.format, cmyk.mode, cmyk.size) == ("JPEG", "RGB", (512, 512))
    # And the 16-bit PNG is an 8-bit grey PNG
    grey = _output(report["png-16-bit"])
    assert (grey.format, grey.mode, grey.size) == ("PNG", "L", (512, 512))
    # And the palette PNG keeps its transparent right half
    palette = _output(report["palette-png"]).convert("RGBA")
    assert palette.getpixel((56, 16))[3] == 0 and palette.getpixel((8, 16)) == (*RED, 255)


def test_a_palette_png_with_transparency_keeps_its_alpha_as_webp(
    origin: Any, worker: Any, prefix: str
) -> None:
    # Given a palette PNG whose right half is the transparent entry
    case = _compressed(
        "palette-png", _as("image/png", make_png_palette_transparent(64, 32)), "webp"
    )
    # When the job asks for WebP
    job, report = _run(origin, prefix, [case], format="webp")
    # Then the WebP has an alpha channel: clear on the right, opaque red on the left
    _assert_outcomes(job, report, [case])
    image = _output(report["palette-png"])
    assert (image.format, image.mode) == ("WEBP", "RGBA")
    assert image.getpixel((56, 16))[3] == 0 and image.getpixel((8, 16))[3] == 255


@pytest.mark.slow
def test_origins_that_drip_or_stall_are_cut_off_at_the_deadline(
    origin: Any, worker: Any, prefix: str
) -> None:
    # Given origins that drip the body, drip the head, or send a head and then nothing
    cases = _slow_cases()
    # When one job fetches them (each attempt ends at the 10 s deadline, and is retried once)
    job, report = _run(origin, prefix, cases)
    # Then each fails as a timeout after exactly two attempts, and the worker lives on
    _assert_outcomes(job, report, cases)
    assert _requests_per_case(origin, prefix) == {case.name: 2 for case in cases}
    assert all("within 10 s" in report[case.name]["error"] for case in cases)
    _assert_worker_alive(worker, origin)


# The bomb is refused before it is decoded into memory


def _pillow_blocks() -> int:
    """Image memory blocks Pillow has handed out so far. Its pixels live outside Python's
    allocator, so `tracemalloc` never sees them; every image Pillow allocates counts here."""
    stats = Image.core.get_stats()
    return int(stats["allocated_blocks"] + stats["reused_blocks"])


@pytest.mark.parametrize(
    ("bomb", "reason"),
    [
        (PNG_BOMB, "too_many_pixels"),
        (jpeg_claiming_size(BOMB_SIDE, BOMB_SIDE), "too_many_pixels"),
        (ICO_BOMB, "not_an_image"),
    ],
    ids=["png", "jpeg", "ico"],
)
def test_a_bomb_is_refused_before_its_pixels_take_memory(bomb: bytes, reason: str) -> None:
    # Given a file of a few hundred bytes that declares 20000×20000 pixels (400 MB and more
    # once decoded), directly or inside an icon
    assert len(bomb) < 1000
    # When it is compressed with the 50 MP limit
    before = _pillow_blocks()
    with pytest.raises(PermanentFailure) as failure:
        compress(bomb, JobOptions(), max_pixels=50_000_000)
    taken = (_pillow_blocks() - before) * Image.core.get_block_size()
    # Then it fails with its reason, and the image memory taken (none, unless another thread
    # decoded something meanwhile) is far below what its pixels would need
    assert failure.value.reason == reason
    assert taken < BOMB_SIDE * BOMB_SIDE // 10


def test_the_block_count_does_see_a_decode() -> None:
    # Given a real 1411×1411 photograph (6 MB of RGB pixels): the measure's control
    before = _pillow_blocks()
    compress(photo_bytes("retina.jpg"), JobOptions(), max_pixels=50_000_000)
    # Then decoding it shows as allocated blocks
    assert _pillow_blocks() > before
