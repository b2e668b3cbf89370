"""One Nuclio worker: load the handler, run init_context once, serve events from the processor.

Runs as a script (``python -u wrapper.py --handler main:handler --event-socket-path P
--control-socket-path Q ...``) with the arguments and wire protocol of Nuclio 1.13/1.14's own
``_nuclio_wrapper.py``, so either can be the processor's worker. On the event socket, events
arrive as a 4-byte big-endian length and a msgpack map; everything sent back is one line with a
one-letter prefix: ``s`` ready, ``l`` log record, ``m`` metric, ``r`` response (a JSON list for
a batch). On the control socket the worker sends JSON lines (``wrapperInitialized`` once ready).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import select
import socket
import sys
import threading
import time
import traceback
from typing import Any, Callable

READ_BUFFER = 1 << 16  # what one read of the event socket takes in, unless an event is larger
HANDLER_RE = re.compile(r"^([\w|-]+(\.[\w|-]+)*):(\w+)$")
DEBUG_ENV = "CVAT_FN_DEBUGPY"
"""``HOST:PORT``: this worker listens there for a debugger (``cvat-fn dashboard --debug``)."""


class SocketWriter:
    """A file-like writer whose every write() is one atomic send, shared by logs and responses."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        data = memoryview(text.encode("utf-8"))
        with self._lock:
            while data:  # the socket is non-blocking (the event loop reads it): wait to write
                try:
                    data = data[self._sock.send(data) :]
                except BlockingIOError:
                    select.select([], [self._sock], [])
        return len(text)

    def flush(self) -> None:
        pass


def _socket_formatter() -> logging.Formatter:
    import nuclio_sdk.logger

    class LogLineFormatter(nuclio_sdk.logger.JSONFormatter):
        def format(self, record: logging.LogRecord) -> str:
            return "l" + super().format(record)

    return LogLineFormatter()


def load_entrypoint(handler: str) -> tuple[Any, Callable[..., Any]]:
    """Import ``module.sub:function`` as Nuclio does; return (module, function)."""
    match = HANDLER_RE.match(handler)
    if not match:
        raise ValueError("Malformed handler - {!r} (expected module:function)".format(handler))
    module_name, function_name = match.group(1), match.group(3)
    module = __import__(module_name)
    for part in module_name.split(".")[1:]:
        module = getattr(module, part)
    if not hasattr(module, function_name):
        raise AttributeError(
            "handler {!r}: module {!r} has no function {!r}".format(
                handler, module_name, function_name
            )
        )
    return module, getattr(module, function_name)


class Wrapper:
    """Nuclio 1.13/1.14's wrapper flow: connect the event socket, then the control socket;
    await coroutines from init_context and the handler on one asyncio loop; answer any
    BaseException from the handler (SystemExit included) with a 500 and serve on."""

    def __init__(self, args: argparse.Namespace, loop: asyncio.AbstractEventLoop) -> None:
        import msgpack
        import nuclio_sdk

        self._nuclio_sdk = nuclio_sdk
        self._msgpack = msgpack
        self._loop = loop
        self._decode = bool(args.decode_event_strings)
        self._encoder = nuclio_sdk.json_encoder.Encoder()
        self._fast = json.JSONEncoder(allow_nan=False, default=self._encoder.default)
        self.logger = nuclio_sdk.Logger(logging.DEBUG, name="nuclio_sdk.w" + str(args.worker_id))
        self.logger.set_handler("default", sys.stdout, nuclio_sdk.logger.JSONFormatter())
        self.logger.bind(worker_id=args.worker_id)
        self._module, self._entrypoint = load_entrypoint(args.handler)
        # Nuclio passes the event socket paths joined by ", "; it uses the first.
        self._event_sock = _connect(args.event_socket_path.split(", ")[0])
        self._control_sock = _connect(args.control_socket_path)
        self._out = SocketWriter(self._event_sock)
        self._control_out = SocketWriter(self._control_sock)
        self._rbuf = bytearray(READ_BUFFER)
        self._filled = 0
        self._busy = False  # a coroutine handler is running
        self._closed: asyncio.Future[None] = loop.create_future()
        self.logger.set_handler("default", self._out, _socket_formatter())
        trigger = nuclio_sdk.TriggerInfo(args.trigger_kind, args.trigger_name)
        platform = nuclio_sdk.Platform(
            args.platform_kind,
            namespace=args.namespace,
            on_control_callback=self._send_control,
        )
        self.context = nuclio_sdk.Context(self.logger, platform, args.worker_id, trigger)
        self._deserializer = (
            nuclio_sdk.EventDeserializerKinds.msgpack
            if self._decode
            else nuclio_sdk.EventDeserializerKinds.msgpack_raw
        )

    async def initialize(self) -> None:
        """init_context (awaited when it is a coroutine function), then report ready."""
        init_context = getattr(self._module, "init_context", None)
        if init_context is not None:
            try:
                result = init_context(self.context)
                if asyncio.iscoroutinefunction(init_context):
                    await result
            except BaseException:
                self.logger.error("Exception raised while running init_context")
                raise
        self._send("s")
        await self._send_control({"kind": "wrapperInitialized", "attributes": {"ready": "true"}})

    async def _send_control(self, data: Any) -> None:
        self._control_out.write(self._encoder.encode(data) + "\n")

    def _send(self, line: str) -> None:
        self._out.write(line + "\n")

    def _consume(self, size: int) -> None:
        """Drop the event just served from the buffer. A buffer grown for a large event is
        kept for the next (as Nuclio's wrapper keeps its Unpacker's): a new one would be
        zeroed, page by page, for every large event."""
        rest = self._filled - size
        if rest:
            self._rbuf[:rest] = self._rbuf[size : self._filled]
        self._filled = rest

    def _encode(self, output: Any) -> str:
        # A list is a batch: one response each; the processor answers with the first.
        from_output = self._nuclio_sdk.Response.from_entrypoint_output
        if isinstance(output, list):
            response: Any = [from_output(self._dumps, item) for item in output]
        else:
            response = from_output(self._dumps, output)
        return self._dumps(response)

    def _dumps(self, value: Any) -> str:
        """nuclio_sdk's JSON encoder, whose output the C encoder gives many times faster for
        anything without NaN or infinities (which Nuclio's writes as strings): those, and
        anything else the fast one refuses, go through Nuclio's own."""
        try:
            return self._fast.encode(value)
        except ValueError:
            return str(self._encoder.encode(value))

    def _error(self, message: str, exc: BaseException) -> None:
        text = '{0} - "{1}": {2}'.format(message, exc, traceback.format_exc())
        self.logger.error_with(message, exc=str(exc), traceback=traceback.format_exc())
        response = {
            "body": text,
            "body_encoding": "text",
            "content_type": "text/plain",
            "status_code": 500,
        }
        self._send("r" + self._encoder.encode(response))

    async def serve(self) -> None:
        """Serve events until the processor closes the socket. One reader stays registered
        with the loop (none is added and removed per event, as awaiting sock_recv does); a
        plain handler runs as soon as its event is complete, a coroutine as a task, and the
        next event waits for it, so the loop runs between events as under Nuclio's wrapper."""
        self._closed = self._loop.create_future()
        self._loop.add_reader(self._event_sock, self._on_readable)
        try:
            await self._closed
        finally:
            self._loop.remove_reader(self._event_sock)

    def _on_readable(self) -> None:
        if self._filled == len(self._rbuf):  # events queued behind a coroutine handler
            self._grow(2 * len(self._rbuf))
        with memoryview(self._rbuf) as view:
            try:
                got = self._event_sock.recv_into(view[self._filled :])
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                got = 0
        if not got:
            self._finish_serving(None)  # the processor closed the socket
            return
        self._filled += got
        self._next()

    def _finish_serving(self, error: BaseException | None) -> None:
        if not self._closed.done():
            if error is None:
                self._closed.set_result(None)
            else:
                self._closed.set_exception(error)

    def _grow(self, size: int) -> None:
        grown = bytearray(size)
        grown[: self._filled] = memoryview(self._rbuf)[: self._filled]
        self._rbuf = grown

    def _next(self) -> None:
        """Serve each complete event in the buffer (4-byte big-endian length, then msgpack),
        unless a coroutine handler is still running."""
        while not self._busy and self._filled >= 4 and not self._closed.done():
            length = int.from_bytes(self._rbuf[:4], "big")
            if length <= 0:
                self._finish_serving(SystemExit("illegal message size: {}".format(length)))
                return
            end = 4 + length
            if self._filled < end:
                if len(self._rbuf) < end:
                    self._grow(end)
                return
            with memoryview(self._rbuf) as view:
                self._serve_one(view[4:end])
            self._consume(end)

    def _serve_one(self, payload: memoryview) -> None:
        try:
            event = self._deserialize(payload)
        except Exception as exc:  # UnicodeDecodeError too: Nuclio's answers it and serves on
            self._error("Exception caught while serving", exc)
            return
        finally:
            payload.release()
        started = time.time()
        try:
            output = self._entrypoint(self.context, event)
            if asyncio.iscoroutine(output):
                self._busy = True
                self._loop.create_task(self._await_handler(output, started))
                return
            self._respond(output, started)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too, as Nuclio's
            self._error("Exception caught in handler", exc)

    def _deserialize(self, payload: memoryview) -> Any:
        """The nuclio_sdk Event of one msgpack event. Where the body comes first (as the
        processor writes it), it is not unpacked into a copy: a JSON body is decoded straight
        from the read buffer, once, by nuclio_sdk's own deserializer."""
        split = _body_first(payload)
        if split is None:
            message = self._msgpack.unpackb(payload, raw=not self._decode)
            return self._nuclio_sdk.Event.deserialize(message, kind=self._deserializer)
        count, start, size = split
        rest = _map_header(count - 1) + bytes(payload[start + size :])
        message = self._msgpack.unpackb(rest, raw=not self._decode)
        key: Any = "body" if self._decode else b"body"
        content_type = message.get("content_type" if self._decode else b"content_type")
        with payload[start : start + size] as body:
            json_body = content_type in ("application/json", b"application/json")
            message[key] = _JsonBody(body) if json_body else bytes(body)
            event = self._nuclio_sdk.Event.deserialize(message, kind=self._deserializer)
            if isinstance(event.body, _JsonBody):
                if event.body.decoded:  # not JSON after all: bytes, as nuclio_sdk leaves it
                    event.body = bytes(body)
                else:  # this nuclio_sdk reads a body otherwise: give it the bytes
                    message[key] = bytes(body)
                    event = self._nuclio_sdk.Event.deserialize(message, kind=self._deserializer)
        return event

    async def _await_handler(self, output: Any, started: float) -> None:
        try:
            self._respond(await output, started)
        except BaseException as exc:
            self._error("Exception caught in handler", exc)
        finally:
            self._busy = False
            self._next()

    def _respond(self, output: Any, started: float) -> None:
        duration = time.time() - started or sys.float_info.min
        # the metric and the response, as Nuclio's wrapper writes them, in one send
        self._out.write(
            "m{}\nr{}\n".format(json.dumps({"duration": duration}), self._encode(output))
        )


class _JsonBody:
    """A JSON body still in the read buffer: nuclio_sdk decodes it (``body.decode``) once."""

    __slots__ = ("view", "decoded")

    def __init__(self, view: memoryview) -> None:
        self.view = view
        self.decoded = False  # whether nuclio_sdk asked for it (it may fail: not UTF-8)

    def decode(self, encoding: str = "utf-8") -> str:
        self.decoded = True
        return str(self.view, encoding)


def _map_header(count: int) -> bytes:
    if count < 16:
        return bytes((0x80 | count,))
    return b"\xde" + count.to_bytes(2, "big")


def _body_first(payload: memoryview) -> tuple[int, int, int] | None:
    """(entries, body start, body size) when the msgpack map's first entry is "body" as bin
    (the processor's layout); None otherwise, and the map is unpacked as a whole."""
    if len(payload) < 16:
        return None
    first = payload[0]
    if first & 0xF0 == 0x80:
        count, at = first & 0x0F, 1
    elif first == 0xDE:
        count, at = int.from_bytes(payload[1:3], "big"), 3
    else:
        return None
    if payload[at : at + 5] != b"\xa4body":
        return None
    kind, at = payload[at + 5], at + 6
    width = {0xC4: 1, 0xC5: 2, 0xC6: 4}.get(kind)
    if width is None:
        return None
    size = int.from_bytes(payload[at : at + width], "big")
    start = at + width
    if start + size > len(payload):
        return None
    return count, start, size


def _connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    sock.setblocking(False)
    return sock


M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
KEEP_FREED = 1 << 26  # 64 MiB


def reuse_freed_memory() -> None:
    """Keep freed memory for the next event instead of giving it back to the kernel at once.

    glibc serves a block of a few megabytes with mmap and unmaps it when freed, so every large
    body (the text decoded from it, the string JSON makes of its base64) is faulted in page by
    page again: a 10 MB body costs twice ``json.loads``' own time. With the blocks taken from
    the heap and up to KEEP_FREED of freed heap kept, the next event reuses the same pages.
    A no-op where the C library is not glibc (mallopt missing or refusing)."""
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (ImportError, OSError, AttributeError):
        return
    mallopt(M_MMAP_THRESHOLD, KEEP_FREED)
    mallopt(M_TRIM_THRESHOLD, KEEP_FREED)


def exit_with_parent() -> None:
    """End this worker when its processor is gone (even killed with -9, mid-handler)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def start_debugger(env: Any = None) -> None:
    """Listen for a debugpy client when CVAT_FN_DEBUGPY asks for it, before the handler is
    imported, so a breakpoint in ``handler`` (or ``init_context``) is hit. debugpy is imported
    only then: the runtime itself needs only the standard library, nuclio_sdk and msgpack."""
    where = (os.environ if env is None else env).get(DEBUG_ENV)
    if not where:
        return
    import debugpy  # the debug extra; only when asked

    host, _, port = where.rpartition(":")
    debugpy.listen((host or "127.0.0.1", int(port)))
    sys.stderr.write("worker: debugpy listening on {0}\n".format(where))
    sys.stderr.flush()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line Nuclio's python runtime (runtime.go, RunWrapper) gives its wrapper."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handler", required=True, help="module.sub:function")
    parser.add_argument(
        "--event-socket-path", required=True, help="the processor's event socket(s), ', '-joined"
    )
    parser.add_argument(
        "--control-socket-path", required=True, help="the processor's control socket"
    )
    parser.add_argument("--log-level", default=logging.DEBUG)
    parser.add_argument("--platform-kind", choices=["local", "kube"], default="local")
    parser.add_argument("--namespace")
    parser.add_argument("--worker-id")
    parser.add_argument("--trigger-kind")
    parser.add_argument("--trigger-name")
    parser.add_argument("--decode-event-strings", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    # Run as a script, sys.path[0] is this directory; the function's directory must win instead.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, os.getcwd())
    args = parse_args(argv)
    exit_with_parent()
    reuse_freed_memory()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        start_debugger()
        wrapper = Wrapper(args, loop)
        loop.run_until_complete(wrapper.initialize())
    except BaseException as exc:
        sys.stderr.write(
            "worker {0}: failed to load or initialise the function ({1}: {2})\n{3}".format(
                args.worker_id, type(exc).__name__, exc, traceback.format_exc()
            )
        )
        sys.stderr.flush()
        raise SystemExit(1) from None
    try:
        loop.run_until_complete(wrapper.serve())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


if __name__ == "__main__":
    main()
