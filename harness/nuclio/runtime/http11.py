"""The HTTP/1.1 the trigger speaks: one request read off a keep-alive connection, one answer
written back, with no parsing or copying beyond what the bytes need.

The standard library's BaseHTTPRequestHandler parses headers with the email package and joins
the answer into one buffer; on a no-op function those two cost more than the worker's round
trip. This reads the request line and headers with plain splits, reads the body into one
buffer, and writes the head and the body with one ``sendmsg`` (no join of a large body).
"""

from __future__ import annotations

import io
import socket
import struct
import time
from http import HTTPStatus
from typing import Dict, Iterator, List, Optional, Tuple, Union

try:
    import fcntl
    import termios

    _FIONREAD: Optional[int] = termios.FIONREAD
except ImportError:  # not a Unix
    _FIONREAD = None

MAX_LINE = 65536  # the request line and each header line (BaseHTTPRequestHandler's limit too)
MAX_HEADERS = 100  # http.client's _MAXHEADERS
# fasthttp.Server{Name: "nuclio"} in Nuclio's pkg/processor/trigger/http/trigger.go
SERVER = "nuclio"
_PHRASES = {status.value: status.phrase for status in HTTPStatus}


class BadRequest(Exception):
    """The request cannot be read; carries the status to answer with before closing."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class BodyTooLarge(Exception):
    """The body is larger than the trigger accepts (maxRequestBodySize)."""


class Request:
    """One request: method, target, version, headers (last of a repeated name wins, looked up
    by lower-case name in ``lower``, kept as sent in ``items``)."""

    __slots__ = ("method", "target", "version", "items", "lower", "close")

    def __init__(self, method: str, target: str, version: str, items: List[Tuple[str, str]]):
        self.method = method
        self.target = target
        self.version = version
        self.items = items
        self.lower = {name.lower(): value for name, value in items}
        connection = self.lower.get("connection", "").lower()
        if version == "HTTP/1.1":
            self.close = "close" in connection
        else:  # HTTP/1.0 keeps the connection only when asked to
            self.close = "keep-alive" not in connection

    def get(self, name: str, default: str = "") -> str:
        return self.lower.get(name.lower(), default)


def read_request(rfile: io.BufferedIOBase) -> Optional[Request]:
    """The next request's line and headers; None when the client closed the connection."""
    line = rfile.readline(MAX_LINE + 1)
    while line in (b"\r\n", b"\n"):  # tolerated between requests, as most servers do
        line = rfile.readline(MAX_LINE + 1)
    if not line:
        return None
    if len(line) > MAX_LINE:
        raise BadRequest(414, "request line too long")
    parts = line.decode("iso-8859-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise BadRequest(400, "bad request line {!r}".format(line[:100]))
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise BadRequest(505, "HTTP version {} not supported".format(version))
    items: List[Tuple[str, str]] = []
    while True:
        header = rfile.readline(MAX_LINE + 1)
        if header in (b"\r\n", b"\n", b""):
            break
        if len(header) > MAX_LINE:
            raise BadRequest(431, "header line too long")
        if len(items) >= MAX_HEADERS:
            raise BadRequest(431, "more than {} headers".format(MAX_HEADERS))
        name, colon, value = header.decode("iso-8859-1").partition(":")
        if not colon or not name or name != name.strip():
            raise BadRequest(400, "bad header line {!r}".format(header[:100]))
        items.append((name, value.strip()))
    return Request(method, target, version, items)


class BodyBuffer:
    """One connection's buffer for large bodies, kept between its requests: a new one each
    time would be faulted in page by page by the kernel (milliseconds for a 10 MB frame)."""

    SMALL = 1 << 16  # smaller bodies are read as bytes

    def __init__(self) -> None:
        self._buffer = bytearray()

    def read(self, rfile: io.BufferedIOBase, length: int) -> memoryview:
        self._reserve(length)
        return self.fill(rfile, 0, length)

    def _reserve(self, length: int) -> None:
        if len(self._buffer) < length:
            self._buffer = bytearray(length)

    def fill(self, rfile: io.BufferedIOBase, start: int, end: int) -> memoryview:
        """Bytes ``start:end`` of the body read into the buffer; the view is of all ``:end``."""
        view = memoryview(self._buffer)[:end]
        done = start
        while done < end:
            got = rfile.readinto(view[done:])
            if not got:
                raise ConnectionError("the client closed the connection mid-body")
            done += got
        return view

    def lead(self, rfile: io.BufferedIOBase, length: int, size: int) -> memoryview:
        """The first ``size`` bytes of a body of ``length``, read whole; ``fill`` reads the
        rest after them, or ``parts`` relays it."""
        self._reserve(length)
        return self.fill(rfile, 0, min(size, length))

    def parts(
        self, rfile: io.BufferedIOBase, lead: memoryview, length: int, size: int
    ) -> Iterator[memoryview]:
        """A body of ``length`` bytes as it arrives: ``lead``, then a read at a time (each
        view is valid until the next); ConnectionError when the client closes the
        connection first."""
        yield lead
        view = memoryview(self._buffer)[:size]
        left = length - len(lead)
        while left:
            got = rfile.readinto1(view[: min(size, left)])
            if not got:
                raise ConnectionError("the client closed the connection mid-body")
            left -= got
            yield view[:got]


def queued(sock: socket.socket) -> int:
    """Bytes received on ``sock`` and not read yet (0 where the system cannot tell)."""
    if _FIONREAD is None:
        return 0
    try:
        return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), _FIONREAD, b"\0" * 4))[0])
    except (OSError, ValueError):
        return 0


def relayable_length(request: Request, limit: int, least: int) -> Optional[int]:
    """The body's Content-Length when it can be relayed as it arrives: at least ``least``
    bytes, at most ``limit``, and not chunked (whose size is known only at its end)."""
    if request.get("transfer-encoding"):
        return None
    try:
        length = int(request.get("content-length") or 0)
    except ValueError:
        return None
    return length if least <= length <= limit else None


def read_body(
    rfile: io.BufferedIOBase, request: Request, limit: int, reuse: Optional[BodyBuffer] = None
) -> Union[bytes, memoryview]:
    """The body by Content-Length or chunked; BodyTooLarge past ``limit``; BadRequest when
    its framing is malformed. A large body is read into ``reuse`` when given: the view is
    valid until the next call."""
    if request.get("transfer-encoding").lower() == "chunked":
        chunks: List[bytes] = []
        total = 0
        while True:
            try:
                size = int(rfile.readline(MAX_LINE).split(b";")[0].strip() or b"0", 16)
            except ValueError:
                raise BadRequest(400, "malformed body: bad chunk size") from None
            if size < 0:
                raise BadRequest(400, "malformed body: negative chunk size")
            if size == 0:
                while rfile.readline(MAX_LINE).strip():
                    pass  # trailers, up to the blank line
                return b"".join(chunks)
            total += size
            if total > limit:
                raise BodyTooLarge()
            chunks.append(rfile.read(size))
            rfile.readline(MAX_LINE)
    try:
        length = int(request.get("content-length") or 0)
    except ValueError:
        raise BadRequest(400, "malformed body: bad Content-Length") from None
    if length < 0:
        raise BadRequest(400, "malformed body: negative Content-Length")
    if length > limit:
        raise BodyTooLarge()
    if not length:
        return b""
    if reuse is not None and length >= BodyBuffer.SMALL:
        return reuse.read(rfile, length)
    body = rfile.read(length)
    if len(body) < length:
        raise ConnectionError("the client closed the connection mid-body")
    return body


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class DateHeader:
    """The Date header's value (RFC 9110's IMF-fixdate, in English whatever the locale),
    formatted once a second rather than once a request."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def __call__(self) -> str:
        now = int(time.time())
        if now != self._second:
            t = time.gmtime(now)
            self._second = now
            self._text = "{}, {:02d} {} {} {:02d}:{:02d}:{:02d} GMT".format(
                _DAYS[t.tm_wday], t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year,
                t.tm_hour, t.tm_min, t.tm_sec,
            )  # fmt: skip
        return self._text


def head(status: int, headers: Dict[str, str], length: int, close: bool, date: str) -> bytes:
    lines = [
        "HTTP/1.1 {} {}\r\nServer: {}\r\nDate: {}\r\n".format(
            status, _PHRASES.get(status, ""), SERVER, date
        )
    ]
    lines.extend("{}: {}\r\n".format(key, value) for key, value in headers.items())
    lines.append("Content-Length: {}\r\n".format(length))
    if close:
        lines.append("Connection: close\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("iso-8859-1", "replace")
