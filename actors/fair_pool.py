"""A pool of threads that takes its work from each job in turn, not first come first served.

A worker process has many message threads and one or two compressing threads. With a plain
FIFO pool, a small job's image waited behind every image the threads of a large job had
already downloaded (up to one per thread); taken in turn, it waits behind at most one of
theirs per compressing thread. Within one job the order stays first come, first served.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
_Work = tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]


class FairPool:
    def __init__(self, threads: int, name: str) -> None:
        # job -> its waiting work; the first key is the job whose turn it is.
        self._waiting: OrderedDict[str, deque[_Work]] = OrderedDict()
        self._ready = threading.Condition()
        self._threads, self._name = threads, name
        self._started = False

    def submit(self, job: str, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run `fn(*args)` on a pool thread in `job`'s turn; its future."""
        future: Future[T] = Future()
        with self._ready:
            self._start()
            self._waiting.setdefault(job, deque()).append((future, fn, args))
            self._ready.notify()
        return future

    def _start(self) -> None:
        # On first use, not when built: the module is imported before a process forks
        # (and by the API, which never compresses), and threads do not survive a fork.
        if self._started:
            return
        self._started = True
        for number in range(self._threads):
            threading.Thread(target=self._serve, name=f"{self._name}_{number}", daemon=True).start()

    def _next(self) -> _Work:
        with self._ready:
            while not self._waiting:
                self._ready.wait()
            job, queue = next(iter(self._waiting.items()))
            work = queue.popleft()
            if queue:
                self._waiting.move_to_end(job)  # its next image waits for the other jobs' turn
            else:
                del self._waiting[job]
            return work

    def _serve(self) -> None:
        while True:
            future, fn, args = self._next()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as error:  # handed to the waiting message thread
                future.set_exception(error)
