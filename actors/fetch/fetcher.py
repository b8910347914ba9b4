"""`Fetcher`: guarded GET downloads and webhook POSTs, redirects followed by hand.

Each request is checked by the guard, sent to an address it allowed, and bounded by one
deadline per attempt; each redirect hop is checked again.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from urllib.parse import urljoin

from urllib3 import HTTPHeaderDict
from urllib3.exceptions import NewConnectionError
from urllib3.response import BaseHTTPResponse

from actors.errors import PermanentFailure
from actors.fetch.deadline import Deadline, within
from actors.fetch.download import Download, read_body
from actors.fetch.failures import failures, raise_for_status
from actors.fetch.pools import Pools
from actors.fetch.resolver import Resolver
from actors.fetch.responses import discard
from actors.guard import Lookup, ParsedTarget, check_url
from ops.config import Config
from storage.vocabulary import FailureReason

USER_AGENT = "imgpress/0.1"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class Fetcher:
    """Guarded HTTP for the pipeline: one instance per process, safe to share between threads."""

    def __init__(
        self,
        config: Config,
        ssl_context: ssl.SSLContext | None = None,
        lookup: Lookup | None = None,
    ) -> None:
        self._config = config
        # `ssl_context` is for tests that trust their own certificate authority, `lookup`
        # (getaddrinfo's shape) for tests of resolvers that misbehave.
        self._pools = Pools(ssl_context or ssl.create_default_context())
        self._resolver = Resolver(config.allow_private_urls, lookup)

    def download(self, url: str) -> Download:
        """Fetch `url` in ONE attempt (retrying is the caller's business) or raise ImageFailure."""
        target = check_url(url)
        deadline = Deadline(self._config.fetch_timeout)
        with failures(target, deadline), within(deadline):
            response, target = self._follow(target, deadline)
            body, size = read_body(response, self._config.max_image_bytes)
        return Download(body, size, response.headers.get("Content-Type"), target.url)

    def post_json(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST `body` to `url` and return the status; redirects are answers, not followed."""
        target = check_url(url)
        deadline = Deadline(self._config.webhook_timeout)
        with failures(target, deadline), within(deadline):
            response = self._send("POST", target, deadline, body, headers)
            discard(response)
        return response.status

    def close(self) -> None:
        self._pools.close()
        self._resolver.close()

    def _follow(
        self, target: ParsedTarget, deadline: Deadline
    ) -> tuple[BaseHTTPResponse, ParsedTarget]:
        for _hop in range(self._config.max_redirects + 1):
            response = self._send("GET", target, deadline)
            location = response.headers.get("Location")
            if response.status not in REDIRECT_STATUSES or not location:
                raise_for_status(response, target)
                return response, target
            discard(response)
            target = check_url(urljoin(target.url, location))  # every hop is checked again
        raise PermanentFailure(
            FailureReason.TOO_MANY_REDIRECTS, f"more than {self._config.max_redirects} redirects"
        )

    def _send(
        self,
        method: str,
        target: ParsedTarget,
        deadline: Deadline,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> BaseHTTPResponse:
        addresses = self._resolver.addresses(target.host, target.port, deadline)
        for ip in addresses[:-1]:
            try:
                return self._urlopen(method, target, ip, deadline, body, headers)
            except NewConnectionError:
                continue  # refused or unreachable at once: the next address may answer
        return self._urlopen(method, target, addresses[-1], deadline, body, headers)

    def _urlopen(
        self,
        method: str,
        target: ParsedTarget,
        ip: str,
        deadline: Deadline,
        body: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> BaseHTTPResponse:
        # Case-insensitive, so a caller's own user-agent replaces ours rather than doubling it.
        sent = HTTPHeaderDict({"User-Agent": USER_AGENT})
        sent.update(headers or {})
        sent["Host"] = target.host_header  # the name; the socket goes to `ip`
        return self._pools.get(target, ip).urlopen(
            method,
            target.path,
            body=body,
            headers=sent,
            retries=False,
            redirect=False,
            assert_same_host=False,
            timeout=deadline.timeout(),
            preload_content=False,
            release_conn=False,
        )
