"""The search for the lowest quality whose sample scores at least a goal, in a few encodes."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

MAX_PROBES = 4  # encodes of the sample per format, at most
CLOSE_ENOUGH = 1.5  # stop once a passing score is this close to the target (score points)
# The search never goes below 20: no photo needs less at any sane target, and images of a few
# dozen pixels, which have too few scales for the metric to be strict, would otherwise drop to 1.
QUALITIES = range(20, 101)


@dataclass(frozen=True)
class Probe:
    quality: int
    score: float  # the fast score of the encoded sample
    size: int  # bytes of the encoded sample


def search(probe: Callable[[int], Probe], goal: float, start: int, step: float) -> list[Probe]:
    """Probes, in the order made, closing in on the lowest quality whose score reaches `goal`.

    It starts at `start`, where a typical photo meets the goal, and steps by `step`, the typical
    score points per quality step (then by the slope it has seen), until it brackets the goal;
    then it interpolates inside the bracket. It stops at MAX_PROBES, when the bracket is one
    quality step wide, or when a passing score is within CLOSE_ENOUGH of the goal.
    """
    probes = [probe(clamp(start))]
    while len(probes) < MAX_PROBES:
        quality = _next_quality(probes, goal, step)
        if quality is None:
            break
        probes.append(probe(quality))
    return probes


def pick(probes: list[Probe], goal: float) -> Probe:
    """The smallest passing probe; if none passes, the best scoring one (the closest)."""
    passing = [p for p in probes if p.score >= goal]
    if passing:
        return min(passing, key=lambda p: (p.size, p.quality))
    return max(probes, key=lambda p: (p.score, -p.size))


def clamp(quality: int) -> int:
    return min(max(quality, QUALITIES[0]), QUALITIES[-1])


def _next_quality(probes: list[Probe], goal: float, step: float) -> int | None:
    passing = [p for p in probes if p.score >= goal]
    failing = [p for p in probes if p.score < goal]
    low = max(failing, key=lambda p: p.quality) if failing else None
    high = min(passing, key=lambda p: p.quality) if passing else None
    if high is not None and (high.score - goal < CLOSE_ENOUGH or high.quality == QUALITIES[0]):
        return None
    if low is not None and high is not None:
        if high.quality - low.quality <= 1:
            return None
        # Inside the bracket: linear interpolation, rounded up (towards passing).
        share = (goal - low.score) / max(high.score - low.score, 1e-6)
        guess = math.ceil(low.quality + share * (high.quality - low.quality))
        return min(max(guess, low.quality + 1), high.quality - 1)
    last = probes[-1]
    if low is not None and low.quality == QUALITIES[-1]:
        return None  # even the best quality falls short
    slope = _observed_slope(probes) or step
    # Outside the bracket: jump by the deficit (or surplus), one step further to cross it.
    jump = (goal - last.score) / slope
    guess = last.quality + (math.ceil(jump) + 1 if jump > 0 else math.floor(jump) - 1)
    guess = clamp(guess)
    return None if any(p.quality == guess for p in probes) else guess


def _observed_slope(probes: list[Probe]) -> float | None:
    if len(probes) < 2:
        return None
    a, b = probes[-2], probes[-1]
    slope = (b.score - a.score) / (b.quality - a.quality) if b.quality != a.quality else 0.0
    return slope if slope > 0.05 else None  # flat or inverted: noise, not a slope
