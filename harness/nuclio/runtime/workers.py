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

RESTART_ATTEMPTS = 3
READ_SIZE = 1 << 18  # one read of the worker's answers (a Unix socket's buffer holds about this)
SEND_BUFFER = 1 << 22  # asked for; the kernel caps it at net.core.wmem_max
TIMEOUT_SLACK = 0.01  # the read timeout is set again once it exceeds what remains by this
WRAPPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wrapper.py")
LogSink = Callable[[Dict[str, Any]], None]


def wrapper_path(env: Dict[str, str]) -> str:
    """NUCLIO_PYTHON_WRAPPER_PATH when set (Nuclio's runtime.go honours it too), else ours."""
    return env.get("NUCLIO_PYTHON_WRAPPER_PATH") or WRAPPER


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

    def start(self) -> None:
        """Spawn the wrapper and block until it reports ready; WorkerDied if it cannot."""
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
            self.conn = self._accept(listeners[0])
            self.control = self._accept(listeners[1])
        finally:
            for listener in listeners:
                listener.close()
        self.conn.settimeout(None)
        self.control.settimeout(None)
        with contextlib.suppress(OSError):  # a large event in a few sends, not dozens
            self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        threading.Thread(target=self._read_control, args=(self.control,), daemon=True).start()
        while True:
            kind, payload = self._read_line(None)
            if kind == "s":
                return
            self._note(kind, payload, None)

    def _accept(self, listener: socket.socket) -> socket.socket:
        assert self.proc is not None
        while True:
            try:
                return listener.accept()[0]
            except socket.timeout:
                if self.proc.poll() is not None:
                    raise WorkerDied(self.proc.returncode) from None

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

    def receive(
        self, timeout: Optional[float]
    ) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
        """The response to the event sent last, and the log records written before it."""
        deadline = time.monotonic() + timeout if timeout else None
        records: List[Dict[str, Any]] = []
        while True:
            kind, payload = self._read_line(deadline)
            if kind == "r":
                return json.loads(payload), records
            self._note(kind, payload, records)
            del payload

    def _note(self, kind: str, payload: str, records: Optional[List[Dict[str, Any]]]) -> None:
        if kind != "l":
            return
        try:
            record = json.loads(payload)
        except ValueError:
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
    first come, first served."""

    def __init__(self, config: Dict[str, Any], env: Dict[str, str], sink: LogSink) -> None:
        self._config = config
        self.env = self._env = env
        self._sink = sink
        self._free: List[Worker] = []
        self._waiters: "collections.deque[_Waiter]" = collections.deque()
        self._all: List[Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        self._event_timeout: Optional[float] = config.get("event_timeout") or None
        self.lost = 0  # workers that could not be restarted: none left means not ready

    def start(self) -> None:
        """Start every worker in parallel; raise WorkerDied if any fails to initialise."""
        count = max(1, int(self._config.get("num_workers") or 1))
        sockdirs.sweep()  # what a processor killed with kill -9 left
        workers = [Worker(i, self._config, self._env, self._sink) for i in range(count)]
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
            waiter.ready.wait()  # taken just now: being sent
        assert waiter.worker is not None
        return waiter.worker, waiter.error

    def take_free(self) -> Optional[Worker]:
        """A worker free right now, or None (nothing waits)."""
        with self._lock:
            return self._free.pop(0) if self._free and not self._waiters else None

    def _send_to(self, worker: Worker, frames: List[Any]) -> Optional[BaseException]:
        try:
            worker.send(frames, self._event_timeout)
        except (WorkerTimeout, OSError) as exc:
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
        waiter.error = self._send_to(worker, waiter.frames)
        waiter.worker = worker
        waiter.ready.set()

    def replace(self, worker: Worker, reason: str) -> None:
        """Kill a stuck or dead worker and start a fresh one (init_context runs again)."""
        self._sink(
            {"level": "warn", "message": "restarting worker: " + reason, "worker": worker.index}
        )

        def restart() -> None:
            began = time.monotonic()
            worker.kill()
            for attempt in range(1, RESTART_ATTEMPTS + 1):
                fresh = Worker(worker.index, self._config, self._env, self._sink)
                with self._lock:
                    if self._closed:
                        return
                    self._all[worker.index] = fresh
                try:
                    fresh.start()
                except BaseException as exc:
                    fresh.kill()
                    self._sink(
                        {
                            "level": "error",
                            "message": "worker restart {}/{} failed: {}".format(
                                attempt, RESTART_ATTEMPTS, exc
                            ),
                            "worker": worker.index,
                        }
                    )
                    time.sleep(0.5 * attempt)
                    continue
                with self._lock:
                    if self._closed:  # closed while it started: it must not outlive the pool
                        fresh.kill()
                        return
                self._sink(
                    {
                        "level": "info",
                        "message": "worker restarted in {:.2f}s".format(time.monotonic() - began),
                        "worker": worker.index,
                    }
                )
                self.release(fresh)
                return
            with self._lock:
                self.lost += 1

        threading.Thread(target=restart, daemon=True).start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
        for worker in workers:
            worker.kill()
