"""NATS-style subjects: dot-separated tokens; `*` matches one token, `>` one or more trailing."""

from __future__ import annotations

from functools import lru_cache


class SubjectError(ValueError):
    """Raised when a subject or a subscription pattern is malformed."""


def _tokens(text: str, *, pattern: bool) -> tuple[str, ...]:
    tokens = tuple(text.split("."))
    if not text or any(not token for token in tokens):
        raise SubjectError(f"{text!r}: tokens must be non-empty and separated by single dots")
    if not pattern and any(token in ("*", ">") for token in tokens):
        raise SubjectError(f"{text!r}: a published subject cannot hold wildcards")
    if pattern and ">" in tokens[:-1]:
        raise SubjectError(f"{text!r}: '>' may only be the last token")
    return tokens


def validate_pattern(pattern: str) -> str:
    _tokens(pattern, pattern=True)
    return pattern


@lru_cache(maxsize=1024)
def matches(pattern: str, subject: str) -> bool:
    """Whether `subject` is delivered to a subscriber of `pattern`."""
    wanted = _tokens(pattern, pattern=True)
    given = _tokens(subject, pattern=False)
    if wanted[-1] == ">":
        head = wanted[:-1]
        return len(given) > len(head) and _same(head, given[: len(head)])
    return len(wanted) == len(given) and _same(wanted, given)


def _same(wanted: tuple[str, ...], given: tuple[str, ...]) -> bool:
    return all(w in ("*", g) for w, g in zip(wanted, given, strict=True))
