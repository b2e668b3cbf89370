"""One Nuclio worker: load the handler, run init_context once, serve events from the processor.

Runs as a script (``python -u wrapper.py --handler main:handler --socket-path ...``), with the
same arguments and wire protocol as Nuclio's own ``_nuclio_wrapper.py``, so either can serve the
processor. Events arrive as a 4-byte big-endian length and a msgpack map; everything sent back
is one line with a one-letter prefix: ``s`` ready, ``l`` log record, ``m`` metric, ``r`` response.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import socket
import sys
import threading
import time
import traceback
from typing import Any, Callable

HANDLER_RE = re.compile(r"^([\w|-]+(\.[\w|-]+)*):(\w+)$")
BATCH_WARNING = (
    "handler returned a list: Nuclio (1.13.3+) takes a list as a batch of responses and sends only"
    " its first item; return context.Response(body=json.dumps(results),"
    " content_type='application/json') instead"
)


class SocketWriter:
    """A file-like writer whose every write() is one atomic send, shared by logs and responses."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        data = text.encode("utf-8")
        with self._lock:
            self._sock.sendall(data)
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
    def __init__(self, args: argparse.Namespace) -> None:
        import msgpack
        import nuclio_sdk

        self._nuclio_sdk = nuclio_sdk
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(args.socket_path)
        self._out = SocketWriter(self._sock)
        self._unpacker = msgpack.Unpacker(raw=False, max_buffer_size=2**31 - 1)
        self._encoder = nuclio_sdk.json_encoder.Encoder()
        self.logger = nuclio_sdk.Logger(logging.DEBUG, name="nuclio_sdk.w" + str(args.worker_id))
        self.logger.set_handler("default", self._out, _socket_formatter())
        trigger = nuclio_sdk.TriggerInfo(args.trigger_kind, args.trigger_name)
        platform = nuclio_sdk.Platform(args.platform_kind, namespace=args.namespace)
        self.context = nuclio_sdk.Context(self.logger, platform, str(args.worker_id), trigger)
        self._deserializer = (
            nuclio_sdk.EventDeserializerKinds.msgpack
            if args.decode_event_strings
            else nuclio_sdk.EventDeserializerKinds.msgpack_raw
        )
        module, self._entrypoint = load_entrypoint(args.handler)
        init_context = getattr(module, "init_context", None)
        if init_context is not None:
            init_context(self.context)
        self._send("s")

    def _send(self, line: str) -> None:
        self._out.write(line + "\n")

    def _read_exact(self, size: int) -> bytes | None:
        chunks, remaining = [], size
        while remaining:
            chunk = self._sock.recv(min(remaining, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _encode(self, output: Any) -> str:
        if isinstance(output, list):
            self.logger.warn(BATCH_WARNING)
            output = output[0] if output else ""
        response = self._nuclio_sdk.Response.from_entrypoint_output(self._encoder.encode, output)
        return self._encoder.encode(response)

    def serve(self) -> None:
        while True:
            header = self._read_exact(4)
            if header is None:
                return
            payload = self._read_exact(int.from_bytes(header, "big"))
            if payload is None:
                return
            self._unpacker.feed(payload)
            event = self._deserializer.value.deserialize(next(self._unpacker))
            started = time.time()
            try:
                output = self._entrypoint(self.context, event)
                encoded = self._encode(output)
            except Exception as exc:
                text = 'Exception caught in handler - "{0}": {1}'.format(
                    exc, traceback.format_exc()
                )
                self.logger.error_with("Exception caught in handler", exc=str(exc))
                encoded = self._encoder.encode(
                    {
                        "body": text,
                        "body_encoding": "text",
                        "content_type": "text/plain",
                        "headers": {},
                        "status_code": 500,
                    }
                )
            self._send("m" + self._encoder.encode({"duration": time.time() - started}))
            self._send("r" + encoded)


def exit_with_parent() -> None:
    """End this worker when its processor is gone (even killed with -9, mid-handler)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handler", required=True, help="module.sub:function")
    parser.add_argument("--socket-path", required=True, help="the processor's Unix socket")
    parser.add_argument("--platform-kind", default="local")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--worker-id", default="0")
    parser.add_argument("--trigger-kind", default="http")
    parser.add_argument("--trigger-name", default="myHttpTrigger")
    parser.add_argument("--decode-event-strings", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    # Run as a script, sys.path[0] is this directory; the function's directory must win instead.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, os.getcwd())
    args = parse_args(argv)
    exit_with_parent()
    try:
        wrapper = Wrapper(args)
    except BaseException as exc:
        sys.stderr.write(
            "worker {0}: failed to load or initialise the function ({1}: {2})\n{3}".format(
                args.worker_id, type(exc).__name__, exc, traceback.format_exc()
            )
        )
        sys.stderr.flush()
        raise SystemExit(1) from None
    wrapper.serve()


if __name__ == "__main__":
    main()
