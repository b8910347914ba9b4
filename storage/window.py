"""The dispatch window: a job never has more than W image messages out at once.

A job's pending images are dispatched in index order, a range at a time. Each message holds a
credit (its index, in the job's in-flight set) until its image is settled; the call that
returns a credit tops the window up again. With every job held to W, the FIFO queue
interleaves jobs: a small job waits behind at most W messages of a large one, and Redis holds
O(W × running jobs) messages instead of O(images) (contract §11, design.md).

Crash safety: a range is granted to a named trigger (the split, one image's settlement, a
recovery) in the same script that takes its credits, and stays recorded until its messages
are sent. A trigger whose process died before sending (so its message is redelivered)
finds its grant and sends the same range again; a repeated message is harmless, because
compress_image checks the image row before any work.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

_TTL_SECONDS = 30 * 24 * 3600  # as the completion counter's keys

# KEYS: inflight set, cursor, grants hash, size.
# ARGV: ttl, window, batch, trigger, returned index ('' when none).
# Returns {state, start, end}: state 1 = a grant already recorded for this trigger (send it
# again), 0 = a new grant (start == end: nothing to send now), -1 = the window was lost.
_REFILL = """
if ARGV[5] ~= '' then redis.call('SREM', KEYS[1], ARGV[5]) end
local granted = redis.call('HGET', KEYS[3], ARGV[4])
if granted then
  local sep = string.find(granted, ':')
  return {1, tonumber(string.sub(granted, 1, sep - 1)), tonumber(string.sub(granted, sep + 1))}
end
local size = redis.call('GET', KEYS[4])
if not size then return {-1, 0, 0} end
size = tonumber(size)
local cursor = tonumber(redis.call('GET', KEYS[2]) or '0')
local free = tonumber(ARGV[2]) - redis.call('SCARD', KEYS[1])
local take = math.min(free, size - cursor)
-- Refill a batch at a time (one database read per batch), except for the job's last images.
if take <= 0 or (take < tonumber(ARGV[3]) and cursor + take < size) then
  return {0, cursor, cursor}
end
for i = cursor, cursor + take - 1 do redis.call('SADD', KEYS[1], i) end
redis.call('SET', KEYS[2], cursor + take, 'EX', ARGV[1])
redis.call('HSET', KEYS[3], ARGV[4], cursor .. ':' .. (cursor + take))
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[1]) end
return {0, cursor, cursor + take}
"""


# KEYS: size. ARGV: images, ttl. Never narrower: a redelivered split must not shrink it.
_WIDEN = """
if tonumber(redis.call('GET', KEYS[1]) or '-1') < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
"""


@dataclass(frozen=True)
class Grant:
    """Image indexes [start, end) to send for `trigger`; `lost`: Redis forgot the window."""

    trigger: str
    start: int = 0
    end: int = 0
    again: bool = False  # recorded by an earlier delivery of the same trigger
    lost: bool = False

    def __len__(self) -> int:
        return self.end - self.start


class DispatchWindow:
    def __init__(self, client: redis.Redis, size: int, batch: int | None = None) -> None:
        if size < 1:
            raise ValueError("a dispatch window holds at least one message")
        self.size = size
        self.batch = max(1, min(batch or size // 8, size))
        self._client = client
        self._refill = client.register_script(_REFILL)
        self._widen = client.register_script(_WIDEN)

    @staticmethod
    def _keys(job_id: str) -> list[str]:
        base = f"imgpress:job:{job_id}:window"
        return [f"{base}:inflight", f"{base}:cursor", f"{base}:grants", f"{base}:size"]

    def open(self, job_id: str, images: int) -> None:
        """Note how many images the job dispatches (indexes 0 .. images-1), or more than
        noted before: a large CSV's split opens the window on its first images, then widens
        it to all of them."""
        self._widen(keys=[self._keys(job_id)[3]], args=[images, _TTL_SECONDS])

    def reset(self, job_id: str, images: int) -> None:
        """Start the window over (after Redis lost it): every pending image is sent again."""
        inflight, cursor, grants, size = self._keys(job_id)
        with self._client.pipeline() as batch:
            batch.delete(inflight, cursor, grants)
            batch.set(size, images, ex=_TTL_SECONDS)
            batch.execute()

    def refill(self, job_id: str, trigger: str, returned: int | None = None) -> Grant:
        """Return `returned`'s credit (idempotent) and take what the window has free."""
        returned_arg = "" if returned is None else str(returned)
        args: list[str | int] = [_TTL_SECONDS, self.size, self.batch, trigger, returned_arg]
        state, start, end = self._refill(keys=self._keys(job_id), args=args)
        if state == -1:
            return Grant(trigger, lost=True)
        return Grant(trigger, int(start), int(end), again=state == 1)

    def sent(self, job_id: str, grant: Grant) -> None:
        """The grant's messages are in the broker: a redelivered trigger takes a new one."""
        if len(grant):
            self._client.hdel(self._keys(job_id)[2], grant.trigger)

    def in_flight(self, job_id: str) -> int:
        return int(self._client.scard(self._keys(job_id)[0]))

    def exists(self, job_id: str) -> bool:
        return bool(self._client.exists(self._keys(job_id)[3]))

    def forget(self, job_id: str) -> None:
        self._client.delete(*self._keys(job_id))
