"""The processor: Nuclio's HTTP trigger and health endpoints in front of a pool of workers."""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import functools
import io
import json
import os
import shutil
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
import uuid
from typing import Any, Dict, Iterator, List, Optional, Tuple, cast
from urllib.parse import parse_qsl, urlsplit

from . import http11
from .buffers import send_all
from .workers import (
    MalformedAnswer,
    Pool,
    Worker,
    WorkerDied,
    WorkerTimeout,
    frame_around_body,
    frame_event,
    wrapper_path,
)

MAX_LOGS_HEADER = 4096
BATCH_WARNING = (
    "handler returned a list: Nuclio (1.13.3+) takes a list as a batch of responses and sends only"
    " its first item; return context.Response(body=json.dumps(results),"
    " content_type='application/json') instead"
)
METHODS = frozenset(("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
LEVELS = {"debug": 10, "info": 20, "warn": 30, "warning": 30, "error": 40}


RELAY_FROM = 1 << 20  # a body this large is relayed to a free worker as it arrives
RELAY_PART = 1 << 18  # read from the client and sent on at most this much at a time
# A body is relayed only when its first part arrived this quickly (about 5 MB/s or more), or
# its next part is waiting already: a slow uploader's body is read whole first, as Nuclio
# reads every body, and holds no worker.
RELAY_LEAD_SECONDS = 0.05
# Seconds a client may send nothing (or take none of its answer) in the middle of a request:
# a stalled client holds a relayed body's worker at most this long. Between requests a
# keep-alive connection may idle for as long as it likes.
READ_TIMEOUT_ENV = "CVAT_FN_CLIENT_READ_TIMEOUT"
DEFAULT_READ_TIMEOUT = 10.0


class ClientGone(ConnectionError):
    """The client stopped sending the body of its event (closed, or sent nothing for the
    read timeout) while a worker held half of it; the worker is being replaced."""

    def __init__(self, message: str, timed_out: bool, worker: int) -> None:
        super().__init__(message)
        self.timed_out = timed_out
        self.worker = worker


def read_timeout(environ: Any) -> float:
    try:
        value = float(environ.get(READ_TIMEOUT_ENV) or DEFAULT_READ_TIMEOUT)
    except ValueError:
        return DEFAULT_READ_TIMEOUT
    return value if value > 0 else DEFAULT_READ_TIMEOUT


class Output:
    """The processor's stdout: one JSON record a line, as Nuclio's processor logs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, record: Dict[str, Any]) -> None:
        record.setdefault("datetime", datetime.datetime.now().isoformat(timespec="milliseconds"))
        record.setdefault("with", {})
        line = json.dumps(record, default=str)
        with self._lock, contextlib.suppress(OSError, ValueError):  # stdout gone: serve on
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def processor(self, level: str, message: str, **extra: Any) -> None:
        self({"level": level, "message": message, "name": "processor", "with": extra})


@functools.lru_cache(maxsize=512)
def canonical(key: str) -> str:
    """Go's canonical MIME header key, as in Nuclio events: content-type -> Content-Type."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in key.split("-"))


def function_env(config: Dict[str, Any]) -> Dict[str, str]:
    env = dict(os.environ)
    env.update({str(k): str(v) for k, v in (config.get("env") or {}).items()})
    env.update(
        {
            "NUCLIO_FUNCTION_NAME": str(config.get("name") or ""),
            "NUCLIO_FUNCTION_DESCRIPTION": str(config.get("description") or ""),
            "NUCLIO_FUNCTION_VERSION": str(config.get("version") or ""),
            "NUCLIO_FUNCTION_HANDLER": str(config.get("handler") or ""),
        }
    )
    path = [config["function_dir"]] + [p for p in [env.get("PYTHONPATH")] if p]
    env["PYTHONPATH"] = os.pathsep.join(path)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Processor:
    def __init__(self, config: Dict[str, Any], out: Output) -> None:
        self.config = config
        self.out = out
        self.pool = Pool(config, function_env(config), out)
        self.ready = threading.Event()
        self.max_body = int(config.get("max_request_body_size") or 4 * 1024 * 1024)
        self.event_timeout: Optional[float] = config.get("event_timeout") or None
        self.availability_timeout = float(config.get("worker_availability_timeout") or 10.0)
        self.read_timeout = read_timeout(os.environ)
        self.failed = False
        self.trigger = {"kind": "http", "name": config.get("trigger_name") or "myHttpTrigger"}

    def is_ready(self) -> bool:
        """Started, and every worker in the pool: as Nuclio's processor is not ready while
        any worker is not (cmd/processor/app/processor.go, GetStatus), being restarted
        included (pkg/processor/runtime/rpc/abstract.go, Stop sets it Stopped)."""
        return self.ready.is_set() and self.pool.short == 0

    def invoke(self, event: Dict[str, Any]) -> Any:
        """(status, headers, body, log records) for one event, never raising."""
        # framed before it waits for a worker, so that the worker freed first is sent it at once
        handed = self.pool.send(frame_event(event), self.availability_timeout)
        if handed is None:
            self.out.processor(
                "warn",
                "no worker became free within the worker availability timeout",
                timeoutSeconds=self.availability_timeout,
            )
            return (
                503,
                {"Content-Type": "application/json"},
                json.dumps({"error": "no available workers"}).encode(),
                [],
            )
        worker, error = handed
        return self._complete(worker, error)

    def invoke_relaying(
        self, worker: Worker, fields: Dict[str, Any], length: int, body: Iterator[memoryview]
    ) -> Tuple[Any, bool]:
        """The event of a body still arriving, sent to ``worker`` (free already) as its parts
        are read: (invoke's result, whether the body was read whole). Raises ClientGone, the
        worker replaced, when the client stops sending it (the worker holds half an event)."""
        error: Optional[BaseException] = None
        try:
            before, after = frame_around_body(fields, length)
            worker.send(before, self.event_timeout)
            while True:
                try:
                    part = next(body)
                except StopIteration:
                    break
                except (OSError, ValueError) as exc:
                    timed_out = isinstance(exc, socket.timeout)
                    if timed_out:
                        reason = "the client sent no part of its body for {:g}s".format(
                            self.read_timeout
                        )
                    else:
                        reason = "the client stopped sending the body of its event"
                    self.pool.replace(worker, reason + " (the worker held half an event)")
                    raise ClientGone(str(exc), timed_out, worker.index) from None
                worker.send([part], self.event_timeout)
            worker.send([after], self.event_timeout)
        except ClientGone:  # a ConnectionError, but the worker is replaced already
            raise
        except Exception as exc:  # noqa: BLE001 (_complete answers it and replaces the worker)
            error = exc  # the rest of the body stays unread: the connection is closed
        return self._complete(worker, error), error is None

    def _complete(self, worker: Worker, error: Optional[BaseException]) -> Any:
        """invoke's result once the event was sent to ``worker`` (``error``: sending failed).
        Whatever happens the client gets an answer and the pool gets a working worker back:
        this one when it answered (even malformed), else a fresh one."""
        try:
            if error is not None:
                raise error
            response, records = worker.receive(self.event_timeout)
        except WorkerTimeout:
            self.pool.replace(worker, "handler timed out after {}s".format(self.event_timeout))
            return 408, {"Content-Type": "application/json"}, b'{"error": "handler timed out"}', []
        except WorkerDied as exc:
            self.pool.replace(worker, "worker process exited (code {})".format(exc))
            body = "worker process exited (code {}) while handling the event".format(exc)
            return 500, {"Content-Type": "text/plain"}, body.encode(), []
        except OSError as exc:
            self.pool.replace(worker, "lost the connection to the worker ({})".format(exc))
            body = "lost the connection to the worker while handling the event: {}".format(exc)
            return 500, {"Content-Type": "text/plain"}, body.encode(), []
        except MalformedAnswer as exc:  # its answer line was read whole: it serves on
            self.pool.release(worker)
            return self._malformed(worker.index, str(exc))
        except Exception as exc:  # noqa: BLE001 (a fault of ours: where the worker is, unknown)
            reason = "{}: {}".format(type(exc).__name__, exc)
            self.out.processor(
                "error",
                "unexpected error while handling an event: " + reason,
                worker=worker.index,
                traceback=traceback.format_exc(),
            )
            self.pool.replace(worker, "unexpected error while handling an event")
            body = "the processor failed while handling the event: " + reason
            return 500, {"Content-Type": "text/plain"}, body.encode(), []
        self.pool.release(worker)
        try:
            return self._answer(response, records, worker.index)
        except MalformedAnswer as exc:
            return self._malformed(worker.index, str(exc))

    def _malformed(self, index: int, reason: str) -> Any:
        """A 500 for an answer that is not Nuclio's response; Nuclio's processor answers 500
        with the decoding error too (rpc/result/result.go, UnmarshalResponseData)."""
        self.out.processor(
            "error",
            "malformed answer from the worker: {}; answered 500, the worker serves on".format(
                reason
            ),
            worker=index,
        )
        body = "malformed answer from the worker: " + reason
        return 500, {"Content-Type": "text/plain"}, body.encode(), []

    def _answer(self, response: Any, records: List[Dict[str, Any]], index: int) -> Any:
        """invoke's result for the wrapper's response; MalformedAnswer where it is not one."""
        if isinstance(response, list):  # a batch: an HTTP trigger answers with its first item
            self.out.processor("warn", BATCH_WARNING, worker=index)
            response = response[0] if response else {}
        if not isinstance(response, dict):
            raise MalformedAnswer("the response is not a JSON object: {!r}".format(response)[:300])
        body = response.get("body") or ""
        if not isinstance(body, str):
            raise MalformedAnswer("its body is not a string: {!r}".format(body)[:300])
        if response.get("body_encoding") == "base64":
            try:
                raw = base64.b64decode(body, validate=True)
            except ValueError as exc:
                raise MalformedAnswer("its base64 body does not decode ({})".format(exc)) from None
        else:
            raw = body.encode("utf-8", "replace")  # a lone surrogate: as Go, not fatal
        given = response.get("headers") or {}
        if not isinstance(given, dict):
            raise MalformedAnswer("its headers are not a JSON object: {!r}".format(given)[:300])
        headers = {
            str(k): str(v)
            for k, v in given.items()
            if str(k).lower() not in ("content-length", "transfer-encoding", "connection")
        }
        headers["Content-Type"] = str(response.get("content_type") or "text/plain")
        status = response.get("status_code") or 200
        if isinstance(status, bool) or not isinstance(status, (int, float)):
            raise MalformedAnswer("its status_code is not a number: {!r}".format(status)[:300])
        return int(status), headers, raw, records


def logs_header(records: List[Dict[str, Any]]) -> Optional[str]:
    """The records as a JSON list, or None where Nuclio's HTTP trigger leaves the header out:
    it sets X-Nuclio-Logs only while the logs are under 4096 bytes (pkg/processor/trigger/http,
    trigger.go, handleRequest), and warns instead."""
    text = json.dumps(records, default=str, separators=(",", ":"))
    return text if len(text.encode("utf-8")) < MAX_LOGS_HEADER else None


class TriggerHandler(socketserver.StreamRequestHandler):
    """One keep-alive connection of the HTTP trigger: each request becomes one event.

    From a request's first byte until its answer is written, each read from the client and
    each write to it must progress within the processor's read timeout; a client that stalls
    is answered 408 (or dropped, when it is its answer that it does not take), and a worker
    that held half of its event is replaced. Every other failure answers 500 with its reason.
    """

    disable_nagle_algorithm = True
    server: "TriggerServer"

    def handle(self) -> None:
        self.body_buffer = http11.BodyBuffer()
        timeout = self.server.processor.read_timeout
        reader = cast(io.BufferedReader, self.rfile)
        with contextlib.suppress(ConnectionError):
            # idle between requests without a deadline, until the next one's first byte
            while reader.peek(1):
                self.connection.settimeout(timeout)
                if not self._serve():
                    return
                self.connection.settimeout(None)

    def _serve(self) -> bool:
        """handle_one, with every way it can fail answered and logged; False: close."""
        self.replying = False
        log = self.server.processor.out.processor
        try:
            return self.handle_one()
        except socket.timeout:
            timeout = self.server.processor.read_timeout
            if self.replying:
                log("warn", "the client took none of its answer for {:g}s: connection dropped"
                    .format(timeout))  # fmt: skip
            else:
                log("warn", "the client sent no part of its request for {:g}s: answered 408 and"
                    " closed (no worker was held)".format(timeout))  # fmt: skip
                self._answer_stalled()
        except ClientGone as gone:  # the worker that held half of its event is replaced
            held = "worker {} replaced: it held half an event".format(gone.worker)
            if gone.timed_out:
                log("warn", "the client sent no part of its body for {:g}s: answered 408 and"
                    " closed ({})".format(self.server.processor.read_timeout, held))  # fmt: skip
                self._answer_stalled()
            else:
                log("warn", "the client closed its connection mid-body: nothing to answer ({})"
                    .format(held))  # fmt: skip
        except ConnectionError as exc:
            what = "before its answer was written" if self.replying else "mid-request"
            log("info", "the client closed its connection {}: dropped ({})".format(what, exc))
        except Exception as exc:  # noqa: BLE001 (a fault of ours: the client still gets told)
            reason = "{}: {}".format(type(exc).__name__, exc)
            log("error", "unexpected error while serving a request: " + reason,
                traceback=traceback.format_exc())  # fmt: skip
            if not self.replying:
                with contextlib.suppress(OSError):
                    message = "the processor failed to serve the request: " + reason
                    self._refuse(500, message)
        return False

    def _answer_stalled(self) -> None:
        with contextlib.suppress(OSError):
            self._refuse(408, "the request did not arrive within the read timeout")

    def _reply(self, status: int, headers: Dict[str, str], body: bytes, close: bool) -> None:
        self.replying = True
        date = self.server.date()
        send_all(self.connection, [http11.head(status, headers, len(body), close, date), body])

    def _refuse(self, status: int, message: str) -> bool:
        self._reply(status, {"Content-Type": "text/plain"}, message.encode(), close=True)
        return False

    def handle_one(self) -> bool:
        """Serve the next request; False when the connection is to be closed."""
        processor = self.server.processor
        try:
            request = http11.read_request(self.rfile)
            if request is None:
                return False
            event = self._event(request)
        except http11.BadRequest as exc:
            return self._refuse(exc.status, str(exc))
        if request.method not in METHODS:
            return self._refuse(501, "Unsupported method ({!r})".format(request.method))
        if request.version == "HTTP/1.1" and request.get("expect").lower() == "100-continue":
            self.connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        length = http11.relayable_length(request, processor.max_body, RELAY_FROM)
        worker: Optional[Worker] = None
        lead: Optional[memoryview] = None
        body: Any = None
        if length:  # a large body goes on to a free worker while it arrives, if it is quick
            began = time.monotonic()
            lead = self.body_buffer.lead(self.rfile, length, RELAY_PART)
            quick = time.monotonic() - began <= RELAY_LEAD_SECONDS
            # on a busy machine it may be this thread that was slow: what already waits counts
            if quick or http11.queued(self.connection) >= min(RELAY_PART, length - len(lead)):
                worker = processor.pool.take_free()
            if worker is None:
                body = self.body_buffer.fill(self.rfile, len(lead), length)
        else:
            try:
                body = http11.read_body(self.rfile, request, processor.max_body, self.body_buffer)
            except http11.BadRequest as exc:
                return self._refuse(exc.status, str(exc))
            except http11.BodyTooLarge:
                message = "request body exceeds maxRequestBodySize ({} bytes)"
                return self._refuse(413, message.format(processor.max_body))
        whole = True
        if worker is None:
            event["size"] = len(body) if body is not None else 0
            event["body"] = body
            status, reply_headers, reply, records = processor.invoke(event)
        else:
            assert length and lead is not None
            event["size"] = length
            parts = self.body_buffer.parts(self.rfile, lead, length, RELAY_PART)
            result, whole = processor.invoke_relaying(worker, event, length, parts)
            status, reply_headers, reply, records = result
        del event, body, lead  # a large body is not kept while the answer is written
        level = request.get("x-nuclio-log-level")
        if level:
            floor = LEVELS.get(level.lower(), 10)
            wanted = [r for r in records if LEVELS.get(str(r.get("level")).lower(), 20) >= floor]
            header = logs_header(wanted)
            if header is None:
                skipped = "Skipped setting logs in header cause of size limit"
                processor.out.processor("warn", skipped)
            else:
                reply_headers["X-Nuclio-Logs"] = header
        close = request.close or not whole  # a body left unread ends the connection
        self._reply(status, reply_headers, reply, close)
        return not close

    def _event(self, request: http11.Request) -> Dict[str, Any]:
        """The event of ``request`` as Nuclio's processor builds it, but for its body and
        size; BadRequest when its target cannot be read."""
        processor = self.server.processor
        target = request.target
        if target.startswith("/"):
            path, _, query = target.partition("?")
            path = path.partition("#")[0]
            query = query.partition("#")[0]
        else:  # absolute-form (a proxy's request)
            try:
                split = urlsplit(target)
            except ValueError as exc:
                raise http11.BadRequest(400, "bad request target {!r}: {}".format(
                    target[:100], exc)) from None  # fmt: skip
            path, query = split.path, split.query
        content_type = request.get("content-type")
        return {
            "content_type": content_type,
            "headers": {canonical(k): v for k, v in request.items},
            "fields": dict(parse_qsl(query, keep_blank_values=True)) if query else {},
            "id": str(uuid.uuid4()),
            "method": request.method,
            "path": path or "/",
            "size": 0,
            "timestamp": int(time.time()),
            "trigger": processor.trigger,
            "url": "http://{}{}".format(request.get("host"), target),
            "shard_id": 0,
            "num_shards": 0,
            "type": "",
            "type_version": "",
            "version": "",
            # the rest of Nuclio's eventAsMap (pkg/processor/runtime/rpc/encoder/encode.go)
            "content-type": content_type,
            "offset": 0,
            "topic": "",
        }


class HealthHandler(socketserver.StreamRequestHandler):
    """GET /live and /ready, as Nuclio's processor answers them on :8082; one a connection."""

    server: "TriggerServer"
    timeout = 10.0  # a probe that stalls does not keep its thread

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError, socket.timeout):
            try:
                request = http11.read_request(self.rfile)
            except http11.BadRequest as exc:
                self._reply(exc.status)
                return
            if request is None:
                return
            path = request.target.partition("?")[0]
            if request.method != "GET":
                status = 501
            elif path == "/live":
                status = 200
            elif path == "/ready":
                status = 200 if self.server.processor.is_ready() else 503
            else:
                status = 404
            self._reply(status)

    def _reply(self, status: int) -> None:
        body = json.dumps({"status": status}).encode()
        headers = {"Content-Type": "application/json"}
        head = http11.head(status, headers, len(body), True, self.server.date())
        send_all(self.connection, [head, body])


class TriggerServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: Any, handler: Any, processor: Processor) -> None:
        super().__init__(address, handler)
        self.processor = processor
        self.date = http11.DateHeader()


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m harness.nuclio.runtime", description=__doc__)
    parser.add_argument(
        "--config", required=True, help="runtime JSON (FunctionSpec.runtime_config)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="HTTP trigger port (0: any free)")
    parser.add_argument(
        "--health-port", type=int, default=8082, help="/ready and /live (0: any free)"
    )
    parser.add_argument("--ports-file", help="write the bound ports here as JSON once listening")
    parser.add_argument("--parent-pid", type=int, help="stop when this process is gone")
    parser.add_argument(
        "--remove-on-exit", metavar="DIR", help="a scratch directory of the runner's to delete"
    )
    return parser.parse_args(argv)


def _watch_parent(pid: int, stop: threading.Event) -> None:
    while not stop.wait(0.5):
        try:
            os.kill(pid, 0)
        except OSError:
            stop.set()


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    with open(args.config, encoding="utf-8") as handle:
        config = json.load(handle)
    out = Output()
    processor = Processor(config, out)
    trigger = TriggerServer((args.host, args.port), TriggerHandler, processor)
    health = TriggerServer((args.host, args.health_port), HealthHandler, processor)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for server in (trigger, health):
        # polled often, so that stopping does not wait half a second for each loop to notice
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    if args.ports_file:
        tmp = args.ports_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(
                {"http": trigger.server_address[1], "health": health.server_address[1]}, handle
            )
        os.replace(tmp, args.ports_file)
    if args.parent_pid:
        threading.Thread(target=_watch_parent, args=(args.parent_pid, stop), daemon=True).start()
    out.processor(
        "info",
        "starting workers",
        function=config.get("name"),
        workers=config.get("num_workers") or 1,
    )
    wrapper = wrapper_path(processor.pool.env)
    if not os.path.isfile(wrapper):
        out.processor("error", "Can't find wrapper at {!r}".format(wrapper))
        processor.failed = True
        stop.set()
    else:
        threading.Thread(target=_start_pool, args=(processor, stop), daemon=True).start()
    try:
        stop.wait()
    finally:
        code = 1 if processor.failed else 0
        trigger.shutdown()
        health.shutdown()
        processor.pool.close()
        if args.remove_on_exit:
            # the runner may be gone (kill -9): its scratch files go with the function
            shutil.rmtree(args.remove_on_exit, ignore_errors=True)
    sys.exit(code)


def _start_pool(processor: Processor, stop: threading.Event) -> None:
    try:
        processor.pool.start()
    except WorkerDied as exc:
        if stop.is_set():  # stopped while starting: the workers were ended, they did not fail
            return
        processor.out.processor(
            "error",
            "Function wasn't ready: a worker failed to initialise (exit code {})".format(exc),
        )
        processor.failed = True
        stop.set()
        return
    processor.ready.set()
    processor.out.processor(
        "info", "function ready", port_workers=processor.config.get("num_workers")
    )
