"""Requests sent ahead of the checks that read them, never more at once than the function
has workers (numWorkers): each worker serves one event at a time, so more would only queue.

The suite knows before it runs which answers its items will read (a fixture at a threshold,
say); those go out on a pool of numWorkers threads in the order the items read them, and
each item waits only for its own answers. Work that depends on an answer (a good request
after a bad one) runs as one unit on one thread (:meth:`Ahead.in_order`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Any, Generic, TypeVar

from harness.cvat.client import FunctionClient

T = TypeVar("T")
R = TypeVar("R")


class Ahead(Generic[R]):
    """A pool of ``workers`` threads, each with its own client (an HTTP session is not
    shared across threads); answers are kept by key until read."""

    def __init__(self, workers: int, make_client: Callable[[], FunctionClient]) -> None:
        self.workers = max(1, workers)
        self._make_client = make_client
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="cvat-fn-ahead")
        self._keyed: dict[Hashable, Future[R]] = {}
        self._cpu = ThreadPoolExecutor(1, thread_name_prefix="cvat-fn-prepare")
        self._prepared: dict[Hashable, Future[Any]] = {}
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()

    def client(self) -> FunctionClient:
        """This thread's client."""
        client: FunctionClient | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._make_client()
        return client

    def _submit(self, call: Callable[[FunctionClient], T]) -> Future[T]:
        future = self._pool.submit(lambda: call(self.client()))
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    def send(self, key: Hashable, call: Callable[[FunctionClient], R]) -> None:
        """Queue ``call`` under ``key`` (once: a key already queued is left as it is)."""
        if key not in self._keyed:
            self._keyed[key] = self._submit(call)

    def take(self, key: Hashable) -> Future[R] | None:
        """The queued answer for ``key`` (then forgotten), or None if none was queued."""
        return self._keyed.pop(key, None)

    def prepare(self, key: Hashable, work: Callable[[], Any]) -> None:
        """Start ``work`` (no requests: preparing them, say) on a thread of its own."""
        if key not in self._prepared:
            future = self._prepared[key] = self._cpu.submit(work)
            with self._lock:
                self._pending.add(future)
            future.add_done_callback(self._done)

    def prepared(self, key: Hashable) -> Future[Any] | None:
        """The work started under ``key`` (then forgotten), or None."""
        return self._prepared.pop(key, None)

    def idle(self) -> None:
        """Wait until nothing is in flight or being prepared, so that the next request is
        sent alone (and timed without another thread taking turns at the interpreter)."""
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return
            wait(pending)

    def in_order(self, values: Iterable[T], unit: Callable[[T, FunctionClient], None]) -> None:
        """``unit(value, client)`` for every value, at most ``workers`` at once, started in
        order; raises what the first unit in order to fail raised, once the units in flight
        beside it have ended. No unit is started once one has failed."""
        source: Iterator[T] = iter(values)
        started: list[Future[None]] = []
        judged = 0  # started[:judged] ended well
        exhausted = False
        while True:
            while judged < len(started) and started[judged].done():
                problem = started[judged].exception()
                if problem is not None:
                    wait(started[judged:])
                    raise problem
                judged += 1
            running = [f for f in started[judged:] if not f.done()]
            failed = any(f.exception() is not None for f in started[judged:] if f.done())
            while not exhausted and not failed and len(running) < self.workers:
                try:
                    value = next(source)
                except StopIteration:
                    exhausted = True
                    break
                running.append(self._submit(partial(unit, value)))
                started.append(running[-1])
            if running:
                wait(running, return_when=FIRST_COMPLETED)
            elif judged == len(started):
                return

    def close(self) -> None:
        """Drop what was not sent yet; what is in flight ends with its request."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._cpu.shutdown(wait=False, cancel_futures=True)
