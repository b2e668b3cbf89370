"""The processor's side of its workers: spawn, hand an event over, read the answer, restart."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import msgpack

from . import sockdirs
from .buffers import send_all

RESTART_ATTEMPTS = 3  # failed restarts after which the pool is short (and /ready says so)
RESTART_BACKOFF = 0.5  # seconds before the second attempt; doubled after each failure
RESTART_BACKOFF_MAX = 30.0  # a worker that stays unstartable is tried again this often
DEFAULT_READINESS = 120.0  # spec.readinessTimeoutSeconds' default, as Nuclio's
READ_SIZE = 1 << 18  # one read of the worker's answers (a Unix socket's buffer holds about this)
SEND_BUFFER = 1 << 22  # asked for; the kernel caps it at net.core.wmem_max
TIMEOUT_SLACK = 0.01  # the read timeout is set again once it exceeds what remains by this
WRAPPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wrapper.py")
LogSink = Callable[[Dict[str, Any]], None]


def wrapper_path(env: Dict[str, str]) -> str:
    """NUCLIO_PYTHON_WRAPPER_PATH when set (Nuclio's runtime.go honours it too), else ours."""
    return env.get("NUCLIO_PYTHON_WRAPPER_PATH") or WRAPPER


def _not_ready(timeout: Optional[float]) -> str:
    return "it did not report ready within the readiness timeout ({:g}s)".format(timeout or 0)


def _bin_header(size: int) -> bytes:
    if size < 1 << 8:
        return struct.pack(">BB", 0xC4, size)
    if size < 1 << 16:
        return struct.pack(">BH", 0xC5, size)
    return struct.pack(">BI", 0xC6, size)


def _map_header(count: int) -> bytes:
    return struct.pack(">B", 0x80 | count) if count < 16 else struct.pack(">BH", 0xDE, count)


_BODY_KEY = msgpack.packb("body")


def frame_event(event: Dict[str, Any]) -> List[Any]:
    """The event as Nuclio's processor frames it (4-byte big-endian length, then a msgpack
    map), as buffers to send in one go: the body is written as it is rather than copied into
    one packed buffer, and the frame is not joined either. The body is the map's first entry
    (any order is valid msgpack), where the wrapper finds it without unpacking it."""
    fields = dict(event)
    body = fields.pop("body")
    if not isinstance(body, (bytes, bytearray, memoryview)):
        fields["body"] = body
        packed = msgpack.packb(fields, use_bin_type=True)
        return [len(packed).to_bytes(4, "big"), packed]
    before, after = frame_around_body(fields, len(body))
    return [*before, body, after]


def frame_around_body(fields: Dict[str, Any], length: int) -> Tuple[List[Any], Any]:
    """What frame_event sends before a body of ``length`` bytes and after it: a body still
    arriving can be relayed between the two as it is read."""
    packed = msgpack.packb(fields, use_bin_type=True)
    skip = 1 if packed[0] & 0xF0 == 0x80 else 3  # the map's own header: fixmap or map 16
    head = _map_header(len(fields) + 1) + _BODY_KEY + _bin_header(length)
    size = len(head) + length + len(packed) - skip
    return [size.to_bytes(4, "big"), head], memoryview(packed)[skip:]


class WorkerTimeout(Exception):
    """The handler did not answer within eventTimeout."""


class WorkerDied(Exception):
    """The worker process ended (crash, os._exit, failed init); carries its exit code."""


class MalformedAnswer(Exception):
    """The worker's answer cannot be read as Nuclio's response; the worker is in step (its
    answer line was read whole), so it may serve on."""


class WorkerNotReady(Exception):
    """A worker did not report ready (init_context still running) within its deadline."""


class Worker:
    """One wrapper process, reached as Nuclio's processor reaches it: an event socket (events
    in, log/metric/response lines out) and a control socket (the wrapper's JSON messages)."""

    def __init__(self, index: int, config: Dict[str, Any], env: Dict[str, str], sink: LogSink):
        self.index = index
        self._config = config
        self._env = env
        self._sink = sink
        self._buf = bytearray()
        self._scratch = bytearray(READ_SIZE)
        self._timeout: Optional[float] = None  # the event socket's, as last set
        self._dir = sockdirs.make(index)
        self._path = os.path.join(self._dir, "event.sock")
        self._control_path = os.path.join(self._dir, "control.sock")
        self.proc: Optional[subprocess.Popen] = None
        self.conn: Optional[socket.socket] = None
        self.control: Optional[socket.socket] = None
        self.control_messages: List[Dict[str, Any]] = []

    def command(self) -> List[str]:
        """The wrapper's command line, as Nuclio's python runtime (runtime.go) builds it."""
        return [
            self._config.get("python") or sys.executable,
            "-u",
            wrapper_path(self._env),
            "--handler", self._config["handler"],
            "--event-socket-path", self._path,
            "--control-socket-path", self._control_path,
            "--platform-kind", "local",
            "--namespace", self._config.get("namespace") or "nuclio",
            "--worker-id", str(self.index),
            "--trigger-kind", "http",
            "--trigger-name", self._config.get("trigger_name") or "myHttpTrigger",
            "--decode-event-strings",
        ]  # fmt: skip

    def start(self, timeout: Optional[float] = None) -> None:
        """Spawn the wrapper and block until it reports ready; WorkerDied if it cannot,
        WorkerNotReady if it has not within ``timeout`` seconds (None: no deadline)."""
        deadline = time.monotonic() + timeout if timeout else None
        listeners = []
        for path in (self._path, self._control_path):
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            listener.listen(1)
            listener.settimeout(0.2)
            listeners.append(listener)
        self.proc = subprocess.Popen(
            self.command(), cwd=self._config["function_dir"], env=self._env
        )
        try:
            # the wrapper connects the event socket first, then the control socket
            self.conn = self._accept(listeners[0], deadline, timeout)
            self.control = self._accept(listeners[1], deadline, timeout)
        finally:
            for listener in listeners:
                listener.close()
        self.conn.settimeout(None)
        self.control.settimeout(None)
        with contextlib.suppress(OSError):  # a large event in a few sends, not dozens
            self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        threading.Thread(target=self._read_control, args=(self.control,), daemon=True).start()
        while True:
            try:
                kind, payload = self._read_line(deadline)
            except WorkerTimeout:
                raise WorkerNotReady(_not_ready(timeout)) from None
            if kind == "s":
                self._set_timeout(None)
                return
            self._note(kind, payload, None)

    def _accept(
        self, listener: socket.socket, deadline: Optional[float], timeout: Optional[float]
    ) -> socket.socket:
        assert self.proc is not None
        while True:
            try:
                return listener.accept()[0]
            except socket.timeout:
                if self.proc.poll() is not None:
                    raise WorkerDied(self.proc.returncode) from None
                if deadline is not None and time.monotonic() > deadline:
                    raise WorkerNotReady(_not_ready(timeout)) from None

    def _read_control(self, conn: socket.socket) -> None:
        """The wrapper's control messages: JSON lines (wrapperInitialized, stream acks)."""
        with contextlib.suppress(OSError, ValueError):
            for line in conn.makefile("rb"):
                message = json.loads(line)
                self.control_messages.append(message)
                self._sink(
                    {
                        "level": "debug",
                        "message": "Received control message",
                        "name": "processor",
                        "with": {"messageKind": message.get("kind")},
                        "worker": self.index,
                    }
                )

    def handle(
        self, event: Dict[str, Any], timeout: Optional[float]
    ) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
        """Send one event; return the wrapper's response and the log records it wrote meanwhile."""
        self.send(frame_event(event), timeout)
        return self.receive(timeout)

    def send(self, frames: List[Any], timeout: Optional[float]) -> None:
        """Send one framed event (frame_event); WorkerTimeout when it cannot be written."""
        assert self.conn is not None
        # The whole budget for the send and the first read (the last event's deadline must not
        # cut this one short); set only when it changed, so a quick event costs no syscall.
        self._set_timeout(timeout or None)
        try:
            send_all(self.conn, frames)
        except socket.timeout:
            raise WorkerTimeout() from None

    def receive(self, timeout: Optional[float]) -> Tuple[Any, List[Dict[str, Any]]]:
        """The response to the event sent last, and the log records written before it;
        MalformedAnswer (the line read whole: the worker is in step) when it is not JSON."""
        deadline = time.monotonic() + timeout if timeout else None
        records: List[Dict[str, Any]] = []
        while True:
            kind, payload = self._read_line(deadline)
            if kind == "r":
                try:
                    return json.loads(payload), records
                except ValueError as exc:
                    raise MalformedAnswer(
                        "the response line is not JSON ({}): {!r}".format(exc, payload[:200])
                    ) from None
            self._note(kind, payload, records)
            del payload

    def _note(self, kind: str, payload: str, records: Optional[List[Dict[str, Any]]]) -> None:
        if kind != "l":
            return
        try:
            record = json.loads(payload)
        except ValueError:
            record = None
        if not isinstance(record, dict):  # not Nuclio's log record: its text is kept
            record = {"level": "info", "message": payload, "with": {}}
        record["worker"] = self.index
        self._sink(record)
        if records is not None:
            records.append(record)

    def _read_line(self, deadline: Optional[float]) -> Tuple[str, str]:
        """The next line's one-letter kind and its text, decoded once from the buffer."""
        assert self.conn is not None
        scanned = 0  # bytes already searched for the newline: a big response is scanned once
        while True:
            end = self._buf.find(b"\n", scanned)
            scanned = len(self._buf)
            if end >= 0:
                with memoryview(self._buf) as view:
                    kind = chr(view[0]) if end else ""
                    text = str(view[1:end], "utf-8", "replace") if end > 1 else ""
                del self._buf[: end + 1]
                return kind, text
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WorkerTimeout()
                if self._timeout is None or self._timeout - remaining > TIMEOUT_SLACK:
                    self._set_timeout(remaining)
            try:
                got = self.conn.recv_into(self._scratch)  # no buffer allocated per read
            except socket.timeout:
                raise WorkerTimeout() from None
            except OSError:
                got = 0
            if not got:
                code = self.proc.wait() if self.proc else None
                raise WorkerDied(code)
            with memoryview(self._scratch) as view:
                self._buf += view[:got]

    def _set_timeout(self, value: Optional[float]) -> None:
        assert self.conn is not None
        if value != self._timeout:
            self.conn.settimeout(value)
            self._timeout = value

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for conn in (self.conn, self.control):
            if conn:
                conn.close()
        sockdirs.remove(self._dir)


class _Waiter:
    """An event waiting for a worker, framed already: the worker that frees first is sent it
    by the thread that frees it, before that thread answers its own client."""

    __slots__ = ("frames", "taken", "ready", "worker", "error")

    def __init__(self, frames: List[Any]) -> None:
        self.frames = frames
        self.taken = False
        self.ready = threading.Event()
        self.worker: Optional[Worker] = None
        self.error: Optional[BaseException] = None


class Pool:
    """numWorkers workers; an event waits for a free one as Nuclio's worker allocator does,
    first come, first served. A worker that is replaced is out of the pool until its
    successor reports ready; ``short`` counts those (Nuclio's /ready is 503 meanwhile)."""

    def __init__(self, config: Dict[str, Any], env: Dict[str, str], sink: LogSink) -> None:
        self._config = config
        self.env = self._env = env
        self._sink = sink
        self._free: List[Worker] = []
        self._waiters: "collections.deque[_Waiter]" = collections.deque()
        self._all: List[Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        self._closing = threading.Event()  # wakes restarts waiting to try again
        self._event_timeout: Optional[float] = config.get("event_timeout") or None
        self._start_timeout = float(config.get("readiness_timeout") or DEFAULT_READINESS)
        self.size = max(1, int(config.get("num_workers") or 1))
        self.short = 0  # workers being restarted: out of the pool until ready again
        self.lost = 0  # of those, workers whose restart failed RESTART_ATTEMPTS times so far

    def start(self) -> None:
        """Start every worker in parallel; raise WorkerDied if any fails to initialise."""
        sockdirs.sweep()  # what a processor killed with kill -9 left
        workers = [Worker(i, self._config, self._env, self._sink) for i in range(self.size)]
        self._all.extend(workers)
        errors: List[BaseException] = []
        threads = [threading.Thread(target=self._start_one, args=(w, errors)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        for worker in workers:
            self.release(worker)

    @staticmethod
    def _start_one(worker: Worker, errors: List[BaseException]) -> None:
        try:
            worker.start()
        except BaseException as exc:
            errors.append(exc)

    def send(
        self, frames: List[Any], timeout: float
    ) -> Optional[Tuple[Worker, Optional[BaseException]]]:
        """Send a framed event to the first worker free within ``timeout`` seconds: (the
        worker, the error sending it raised or None), or None when no worker was free."""
        with self._lock:
            worker = self._free.pop(0) if self._free else None
            if worker is None:
                waiter = _Waiter(frames)
                self._waiters.append(waiter)
        if worker is not None:
            return worker, self._send_to(worker, frames)
        if not waiter.ready.wait(timeout):
            with self._lock:
                if not waiter.taken:
                    self._waiters.remove(waiter)
                    return None
            waiter.ready.wait()  # taken just now: being sent (release sets it, come what may)
        assert waiter.worker is not None
        return waiter.worker, waiter.error

    def take_free(self) -> Optional[Worker]:
        """A worker free right now, or None (nothing waits)."""
        with self._lock:
            return self._free.pop(0) if self._free and not self._waiters else None

    def _send_to(self, worker: Worker, frames: List[Any]) -> Optional[BaseException]:
        try:
            worker.send(frames, self._event_timeout)
        except Exception as exc:  # the caller replaces the worker and answers the client
            return exc
        return None

    def release(self, worker: Worker) -> None:
        """The worker answered: send it the oldest waiting event, or keep it free."""
        with self._lock:
            if not self._waiters:
                self._free.append(worker)
                return
            waiter = self._waiters.popleft()
            waiter.taken = True
        try:
            waiter.error = self._send_to(worker, waiter.frames)
        finally:  # the waiting thread is woken whatever happened: it answers its client
            waiter.worker = worker
            waiter.ready.set()

    def log(self, level: str, message: str, worker: Optional[int] = None, **extra: Any) -> None:
        """A processor record; never raises (a log that cannot be written must not end the
        thread that writes it: a restart, an event's answer)."""
        record: Dict[str, Any] = {"level": level, "message": message, "name": "processor"}
        if worker is not None:
            record["worker"] = worker
        if extra:
            record["with"] = extra
        with contextlib.suppress(Exception):
            self._sink(record)

    def replace(self, worker: Worker, reason: str) -> None:
        """Kill a stuck or dead worker and start a fresh one (init_context runs again),
        in a thread of its own, trying again with back-off until one starts or the pool
        closes."""
        with self._lock:
            self.short += 1
        self.log("warn", "restarting worker: " + reason, worker.index)
        threading.Thread(
            target=self._restart, args=(worker,), name="restart-{}".format(worker.index),
            daemon=True,
        ).start()  # fmt: skip

    def _restart(self, worker: Worker) -> None:
        began = time.monotonic()
        index = worker.index
        with contextlib.suppress(Exception):
            worker.kill()
        attempt = 0
        while True:
            attempt += 1
            fresh: Optional[Worker] = None
            try:
                fresh = Worker(index, self._config, self._env, self._sink)  # mkdtemp may fail
                with self._lock:
                    closed = self._closed
                    if not closed:
                        self._all[index] = fresh
                if closed:
                    fresh.kill()
                    return
                fresh.start(self._start_timeout)
            except Exception as exc:
                if fresh is not None:
                    with contextlib.suppress(Exception):
                        fresh.kill()
                if self._failed(index, attempt, exc):
                    return
                continue
            with self._lock:
                closed = self._closed
                if not closed:
                    self.short -= 1
                    if attempt > RESTART_ATTEMPTS:
                        self.lost -= 1
            if closed:  # closed while it started: it must not outlive the pool
                fresh.kill()
                return
            self.log(
                "info",
                "worker restarted in {:.2f}s".format(time.monotonic() - began),
                index,
                attempts=attempt,
                workers=self.size - self.short,
            )
            self.release(fresh)
            return

    def _failed(self, index: int, attempt: int, exc: BaseException) -> bool:
        """Log a failed restart and wait before the next; True when the pool closed."""
        delay = min(RESTART_BACKOFF_MAX, RESTART_BACKOFF * 2 ** (attempt - 1))
        if isinstance(exc, WorkerDied):
            cause = "its process exited (code {}) before it reported ready".format(exc)
        elif isinstance(exc, WorkerNotReady):
            cause = str(exc)
        else:
            cause = "{}: {}".format(type(exc).__name__, exc)
        self.log(
            "error",
            "worker restart attempt {} failed: {}".format(attempt, cause),
            index,
            retryInSeconds=delay,
        )
        if attempt == RESTART_ATTEMPTS:
            with self._lock:
                self.lost += 1
            self.log(
                "error",
                "the pool is short: worker {} could not be restarted in {} attempts; {} of {}"
                " workers serve and /ready answers 503 until it is back (tried again every"
                " {:g}s at most)".format(
                    index, attempt, self.size - self.short, self.size, RESTART_BACKOFF_MAX
                ),
                index,
            )
        return self._closing.wait(delay)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
        self._closing.set()
        for worker in workers:
            worker.kill()
