"""The Redis completion counter: each image counts once, and exactly one caller sees zero."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from redis.lock import Lock

# Keys outlive any sane job, then clean themselves up.
_TTL_SECONDS = 30 * 24 * 3600

# SADD makes counting idempotent: a redelivered message finds its image in the set and
# leaves the counter alone, yet still learns how many remain (so a crash right after the
# last decrement can be recovered by the redelivery).
_COUNT_ONE = """
local added = redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[2])
if added == 1 then
  return {1, redis.call('DECR', KEYS[1])}
end
return {0, tonumber(redis.call('GET', KEYS[1]) or '0')}
"""


@dataclass(frozen=True)
class Count:
    first_time: bool  # this call moved the counter
    remaining: int

    @property
    def job_done(self) -> bool:
        return self.remaining <= 0


class CompletionCounter:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._count_one = client.register_script(_COUNT_ONE)

    @staticmethod
    def _keys(job_id: str) -> tuple[str, str]:
        return f"imgpress:job:{job_id}:remaining", f"imgpress:job:{job_id}:counted"

    def start(self, job_id: str, images: int) -> None:
        """Set the count once; a redelivered split must not reset a running count."""
        remaining, _ = self._keys(job_id)
        self._client.set(remaining, images, nx=True, ex=_TTL_SECONDS)

    def count(self, job_id: str, image_id: int) -> Count:
        added, remaining = self._count_one(
            keys=list(self._keys(job_id)), args=[image_id, _TTL_SECONDS]
        )
        return Count(first_time=bool(added), remaining=int(remaining))

    def is_counted(self, job_id: str, image_id: int) -> bool:
        return bool(self._client.sismember(self._keys(job_id)[1], str(image_id)))

    def forget(self, job_id: str) -> None:
        self._client.delete(*self._keys(job_id))

    def finishing(self, job_id: str, hold_seconds: float) -> Lock:
        """Serialises the finishers of one job (a duplicate can race the real one).

        The lock expires after `hold_seconds`, so a finisher that crashed holding it
        delays its redelivery instead of blocking the job for ever.
        """
        return self._client.lock(
            f"imgpress:job:{job_id}:finishing", timeout=hold_seconds, blocking_timeout=hold_seconds
        )
