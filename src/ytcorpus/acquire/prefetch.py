"""Bounded prefetch: N threads run a slow function (download, decode) ahead of a consumer.

At most `max_ahead` results exist at once (a semaphore taken before an item is pulled
and given back when the consumer calls `done`), so disk and memory stay flat. A failed
item comes back as a value carrying its error; it never stops the other threads.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")
_END = object()


@dataclass
class Prefetched(Generic[T, R]):
    item: T
    value: R | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Prefetcher(Generic[T, R]):
    def __init__(self, items: Iterable[T], work: Callable[[T], R], *, threads: int = 2,
                 max_ahead: int = 4, cleanup: Callable[[R], Any] | None = None,
                 name: str = "prefetch"):
        if threads < 1 or max_ahead < 1:
            raise ValueError("threads and max_ahead must be at least 1")
        self._items = iter(items)
        self._work = work
        self._cleanup = cleanup
        self._slots = threading.Semaphore(max_ahead)
        self._pull_lock = threading.Lock()
        self._out: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._alive = threads
        self._alive_lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True)
                         for i in range(threads)]
        for t in self._threads:
            t.start()

    def _next_item(self):
        # The source may block (a worker polling an empty queue) while holding this
        # lock; only pulling threads ever take it, never the consumer.
        with self._pull_lock:
            if self._stop.is_set():
                return _END
            try:
                item = next(self._items)
            except StopIteration:
                return _END
            return item

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._slots.acquire()
                item = self._next_item()
                if item is _END:
                    self._slots.release()
                    return
                try:
                    self._out.put(Prefetched(item, value=self._work(item)))
                except BaseException as exc:  # one item's failure is a value
                    self._out.put(Prefetched(item, error=exc))
        except BaseException as exc:  # the item source itself failed
            self._out.put(Prefetched(None, error=exc))
        finally:
            with self._alive_lock:
                self._alive -= 1
                if self._alive == 0:
                    self._out.put(_END)

    def get(self, timeout: float | None = None) -> Prefetched[T, R] | None:
        """The next finished item; None on timeout. Raises StopIteration when all are done."""
        try:
            got = self._out.get(timeout=timeout)
        except queue.Empty:
            return None
        if got is _END:
            self._out.put(_END)
            raise StopIteration
        return got

    def ready(self) -> int:
        """How many finished items wait for the consumer now."""
        return self._out.qsize()

    def done(self, result: Prefetched[T, R]) -> None:
        """The consumer is finished with an item: clean it up and free its slot."""
        try:
            if self._cleanup is not None and result.value is not None:
                self._cleanup(result.value)
        finally:
            self._slots.release()

    def __iter__(self) -> Iterator[Prefetched[T, R]]:
        while True:
            try:
                got = self.get()
            except StopIteration:
                return
            if got is not None:
                yield got

    def stop(self, timeout: float | None = None) -> list[Prefetched[T, R]]:
        """Stop pulling new items; wait (up to `timeout` s) for running ones and return
        the finished items nobody consumed. Threads still busy after that are daemons."""
        self._stop.set()
        leftovers = []
        for _ in range(len(self._threads)):  # wake threads waiting for a slot
            self._slots.release()
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        while True:
            try:
                got = self._out.get_nowait()
            except queue.Empty:
                break
            if got is not _END:
                leftovers.append(got)
        return leftovers
