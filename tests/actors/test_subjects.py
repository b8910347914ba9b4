"""NATS-style subject matching: `*` is one token, `>` one or more trailing tokens."""

from __future__ import annotations

import pytest

from actors.subjects import SubjectError, matches, validate_pattern


@pytest.mark.parametrize(
    ("pattern", "subject"),
    [
        ("job.completed", "job.completed"),
        ("job.*", "job.completed"),
        ("job.*", "job.failed"),
        ("*.completed", "job.completed"),
        ("image.>", "image.compressed"),
        ("image.>", "image.failed.deep"),
        (">", "csv.received"),
        ("*.*", "webhook.delivered"),
    ],
)
def test_pattern_matches(pattern: str, subject: str) -> None:
    assert matches(pattern, subject)


@pytest.mark.parametrize(
    ("pattern", "subject"),
    [
        ("job.completed", "job.failed"),
        ("job.*", "job"),
        ("job.*", "job.completed.late"),  # `*` is exactly one token
        ("image.>", "image"),  # `>` needs at least one token
        ("image.>", "images.compressed"),
        ("*", "job.completed"),
        ("job.completed", "job.completed.x"),
    ],
)
def test_pattern_does_not_match(pattern: str, subject: str) -> None:
    assert not matches(pattern, subject)


@pytest.mark.parametrize("pattern", ["", "job..x", ".job", "job.", ">.job", "a.>.b"])
def test_malformed_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(SubjectError):
        validate_pattern(pattern)


def test_a_published_subject_cannot_hold_wildcards() -> None:
    with pytest.raises(SubjectError):
        matches("job.*", "job.*")
