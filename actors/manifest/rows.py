"""Rows and slots: a record's product and image URLs, or why the row is skipped.

A row without a product name or without a URL is skipped (kept, with its reason, for the
report); every URL of a kept row is a slot, fetchable or not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple
from urllib.parse import urlsplit

from actors.manifest.header import Columns

NO_PRODUCT = "no product name"
NO_URL = "no URL"

_BAD_URL_CHARS = re.compile(r"[\s\x00-\x1f\x7f]")
# The common shape (scheme, plain host name, a port, then a path, query or fragment) is
# accepted without urlsplit, which costs ten times more (11 µs a URL) and was most of the
# split's and the report's time on a 100,000-image file whose URLs name a port.
_PLAIN_URL = re.compile(
    r"https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::([0-9]{1,5}))?(?:[/?#][^\s\x00-\x1f\x7f]*)?",
    re.IGNORECASE,
)
_MAX_PORT = 65535


class Slot(NamedTuple):
    """One URL position of a valid row: one image of the job. A NamedTuple, as Row is: the
    split and the finish make one per slot (a frozen dataclass cost three times as much)."""

    row: int
    position: int
    url: str
    valid: bool


class Row(NamedTuple):
    """One data row: its raw cells, its product and its image URLs, or why it is skipped.

    A NamedTuple holding the parser's own lists, not a frozen dataclass of copies: a file's
    rows are built one by one on every read, and those costs came to 40% of the API's check
    of a 10,000-row upload (14.5 ms against 20.2). Nothing keeps a row or changes its lists."""

    number: int
    cells: Sequence[str]
    product: str
    urls: Sequence[str]  # none for a skipped row
    skip_reason: str | None

    @property
    def slots(self) -> tuple[Slot, ...]:
        # Built when asked for: counting a file's images (the API's check) needs only `urls`,
        # and checking every URL would cost that pass more than reading the file does.
        return tuple(
            [Slot(self.number, at, url, is_fetchable_url(url)) for at, url in enumerate(self.urls)]
        )


def is_fetchable_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host and nothing a request line cannot carry."""
    plain = _PLAIN_URL.fullmatch(url)
    if plain and (plain[1] is None or 0 < int(plain[1]) <= _MAX_PORT):
        return True
    if not url or _BAD_URL_CHARS.search(url):
        return False
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0  # .port raises on "host:abc"
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and port_ok


def read_row(cells: Sequence[str], columns: Columns) -> tuple[str, list[str], str | None]:
    """A record's product and URLs, and why it is skipped (None when it is not)."""
    # Run once per row of every read, so the cell lookups are written out here rather than
    # called: a missing cell (a short record) reads as empty.
    count = len(cells)
    product = cells[columns.product].strip() if columns.product < count else ""
    url_cell = cells[columns.url] if columns.url < count else ""
    # Commas and any whitespace (line breaks in a quoted cell included) separate URLs.
    urls = url_cell.replace(",", " ").split()
    return product, urls, NO_PRODUCT if not product else NO_URL if not urls else None
