"""The Redis completion counter: each image counts once, and exactly one caller sees zero."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import redis

# Keys outlive any sane job, then clean themselves up.
_TTL_SECONDS = 30 * 24 * 3600
# A process notes a job's progress at most this often: the watchdog's deadline is many
# seconds, and a SET per image was a tenth of the worker's own CPU per small image.
TOUCH_EVERY_SECONDS = 1.0
_TOUCHED_KEPT = 4096  # jobs whose last touch a process remembers, before it starts over

# SETBIT makes counting idempotent: each image has a bit, at its index in the job, and a
# redelivered message finds its bit set and leaves the counter alone, yet still learns how
# many remain (so a crash right after the last decrement can be recovered by the
# redelivery). A bit, not a set member: a set of 100,000 image ids held 5 MiB of Redis for
# the job's whole run, a bitmap holds 12 KiB. A count that Redis lost (restarted empty,
# flushed, evicted) is never recreated here: the answer -1 sends the caller to the
# database, which knows what is settled.
_COUNT_ONE = """
local added = 1 - redis.call('SETBIT', KEYS[2], ARGV[1], 1)
redis.call('EXPIRE', KEYS[2], ARGV[2])
local remaining = redis.call('GET', KEYS[1])
if not remaining then
  return {added, -1}
end
if added == 1 then
  return {1, redis.call('DECR', KEYS[1])}
end
return {0, tonumber(remaining)}
"""

# Set the count from the database's pending images (ARGV[2], a bitmap of their indexes),
# minus any already counted: an image is counted only after its outcome is committed, so
# none is missed or counted twice. One script, so no count lands between the two reads.
_RESTART = """
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[1])
local pending = redis.call('BITCOUNT', KEYS[3])
redis.call('BITOP', 'AND', KEYS[3], KEYS[3], KEYS[2])
local n = pending - redis.call('BITCOUNT', KEYS[3])
redis.call('DEL', KEYS[3])
redis.call('SET', KEYS[1], n, 'EX', ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return n
"""


@dataclass(frozen=True)
class Count:
    first_time: bool  # this call moved the counter
    remaining: int  # -1: the count was lost

    @property
    def job_done(self) -> bool:
        """Time to look at the job's images: they, not this count, say whether it is done."""
        return self.remaining <= 0


class CompletionCounter:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._count_one = client.register_script(_COUNT_ONE)
        self._restart = client.register_script(_RESTART)
        self._touched: dict[str, float] = {}  # job id -> when this process last touched it

    @staticmethod
    def _keys(job_id: str) -> tuple[str, str, str]:
        # remaining, counted (one bit per image index), and the restart's scratch bitmap
        base = f"imgpress:job:{job_id}"
        return f"{base}:remaining", f"{base}:counted-bits", f"{base}:restarting"

    def start(self, job_id: str, images: int) -> None:
        """Set the count once; a redelivered split must not reset a running count."""
        self._client.set(self._keys(job_id)[0], images, nx=True, ex=_TTL_SECONDS)

    def count(self, job_id: str, index: int) -> Count:
        """Count the job's image at `index` (its place in the job), once."""
        added, remaining = self._count_one(
            keys=list(self._keys(job_id)[:2]), args=[index, _TTL_SECONDS]
        )
        return Count(first_time=bool(added), remaining=int(remaining))

    def restart(self, job_id: str, pending: Iterable[int]) -> int:
        """Rebuild a lost or wrong count from the indexes of the images still pending;
        returns it. The indexes go to Redis as one bitmap (12 KiB for 100,000 images)."""
        args: list[int | bytes] = [_TTL_SECONDS, bitmap(pending)]
        return int(self._restart(keys=list(self._keys(job_id)), args=args))

    def touch(self, job_id: str, at: float) -> None:
        """Note that one of the job's images started: progress the watchdog can see, at most
        once a TOUCH_EVERY_SECONDS per job from this process (a race only touches twice)."""
        if at - self._touched.get(job_id, float("-inf")) < TOUCH_EVERY_SECONDS:
            return
        if len(self._touched) >= _TOUCHED_KEPT:
            self._touched.clear()
        self._touched[job_id] = at
        self._client.set(f"imgpress:job:{job_id}:active", at, ex=_TTL_SECONDS)

    def touched_at(self, job_id: str) -> float | None:
        value = self._client.get(f"imgpress:job:{job_id}:active")
        return None if value is None else float(value)

    def exists(self, job_id: str) -> bool:
        return bool(self._client.exists(self._keys(job_id)[0]))

    def forget(self, job_id: str) -> None:
        self._client.delete(*self._keys(job_id), f"imgpress:job:{job_id}:active")


def bitmap(indexes: Iterable[int]) -> bytes:
    """A Redis bitmap with the bits at `indexes` set (offset 0 is the first byte's high bit)."""
    bits = bytearray()
    for index in indexes:
        byte = index >> 3
        if byte >= len(bits):
            bits.extend(bytes(byte + 1 - len(bits)))
        bits[byte] |= 0x80 >> (index & 7)
    return bytes(bits)
