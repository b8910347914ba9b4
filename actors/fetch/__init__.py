"""The one package that makes outgoing HTTP requests: guarded downloads and webhook POSTs.

Every request goes through the guard (`actors.guard`) and is then sent to the very address
the guard checked: pools are built per resolved IP, with the name carried in the Host header
and in TLS (SNI and certificate check). Redirects are followed by hand so that each hop is
checked again. One deadline covers a whole attempt: resolving the name, connecting, every
read of the headers and of the body, and every redirect hop, so neither a resolver that
hangs nor a server that drips bytes can hold a worker.

Its public face is `Fetcher` (one per process), the `Download` it returns and `USER_AGENT`.
The layers beneath, each used only from here:
- `deadline`: the end of one attempt, and the attempt running in this thread;
- `resolver`: the guard's name lookup, waited for only until that deadline;
- `connections`: urllib3 connections whose every socket read waits only until that deadline;
- `pools`: connection pools per resolved IP, least recently used closed first;
- `responses`: a response drained for reuse of its connection, or its connection closed;
- `download`: a body read to a spool under the byte cap;
- `failures`: urllib3's and the socket's errors, and HTTP statuses, as the pipeline's failures;
- `fetcher`: `Fetcher` itself, which sends, follows redirects and downloads.
"""

from actors.fetch.download import Download
from actors.fetch.fetcher import USER_AGENT, Fetcher

__all__ = ["USER_AGENT", "Download", "Fetcher"]
