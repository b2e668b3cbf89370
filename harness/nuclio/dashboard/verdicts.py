"""Every request CVAT sends, judged and shown as one block: which function, what CVAT sent,
the status and latency, the findings as CVAT will apply them, the function's own log lines.

Judging runs on a thread of its own, after the answer has gone back to CVAT, so it adds
nothing to CVAT's wait; blocks come out in the order the answers did.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from harness.cvat import CVAT_VERSION, errors
from harness.cvat.client import Invocation, LogSource, logged_since, records_in
from harness.cvat.judge import Judge
from harness.nuclio.spec import Label
from harness.output.invocation import Step, failure_lines, findings_lines, status_line, step_json
from harness.output.logformat import format_record
from harness.output.table import shapes_table

IMAGE_FIELDS = ("image", "image0", "image1")


@dataclass
class Exchange:
    """One request to a served function and what came back, as the dashboard saw it."""

    function: str
    kind: str | None
    labels: Sequence[Label] | None
    via: str
    """``dashboard`` (POST /api/function_invocations) or ``direct`` (the function's port)."""
    method: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    """The request's headers worth keeping (CVAT's x-nuclio-* among them)."""
    started: float = field(default_factory=time.time)
    status: int | None = None
    answer: bytes = b""
    latency_s: float = 0.0
    error: str | None = None
    """Why there is no answer from the function (not started, timed out)."""
    logs_header: str | None = None
    log_source: LogSource | None = None
    log_marks: tuple[int, int] = (0, 0)
    """The function's output lines from the request's start to its answer."""
    timeout_s: float | None = None
    timed_out: bool = False


@dataclass
class Verdict:
    """An exchange judged: the Invocation invoke would have made of it, and its images."""

    exchange: Exchange
    step: Step
    request: dict[str, Any] | None
    images: dict[str, bytes]
    cvat_version: str

    @property
    def invocation(self) -> Invocation:
        return self.step.invocation

    def to_json(self) -> dict[str, Any]:
        ex = self.exchange
        out = step_json(self.step, ex.kind or "detector")
        out.update(
            {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(ex.started)),
                "function": ex.function,
                "kind": ex.kind,
                "via": ex.via,
                "cvat_version": self.cvat_version,
                "cvat_fails": self.cvat_fails,
            }
        )
        return out

    @property
    def cvat_fails(self) -> bool:
        """CVAT fails the call on this answer (raise_for_status, or an error finding); shapes
        it drops (a loss) do not fail it."""
        inv = self.invocation
        return inv.error is not None or inv.status != 200 or bool(errors(inv.findings))


def image_info(data: bytes) -> tuple[str, tuple[int, int] | None]:
    """``WxH FORMAT`` of an image's file bytes, as far as PIL can tell."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return f"{img.width}x{img.height} {img.format or '?'}", img.size
    except (UnidentifiedImageError, OSError, ValueError):
        return f"{len(data)} bytes PIL cannot read", None


def _points(value: Any) -> str:
    return json.dumps(value, separators=(",", ":")) if value is not None else "none"


def describe_request(
    kind: str | None, request: Any
) -> tuple[str, tuple[int, int] | None, dict[str, bytes]]:
    """What CVAT sent, in a line (image size, threshold, points, shapes), the first image's
    size, and the images' file bytes."""
    if not isinstance(request, dict):
        return f"a {type(request).__name__}, not CVAT's JSON object", None, {}
    images: dict[str, bytes] = {}
    parts: list[str] = []
    size: tuple[int, int] | None = None
    for key in IMAGE_FIELDS:
        if key not in request:
            continue
        try:
            data = base64.b64decode(str(request[key]), validate=True)
        except (binascii.Error, ValueError):
            parts.append(f"{key} not base64")
            continue
        images[key] = data
        text, found = image_info(data)
        size = size or found
        parts.append(f"{key} {text}")
    if "threshold" in request:
        parts.append(f"threshold {request['threshold']}")
    if kind == "interactor" or "pos_points" in request:
        parts.append(f"pos {_points(request.get('pos_points'))}")
        parts.append(f"neg {_points(request.get('neg_points'))}")
        parts.append(f"obj_bbox {_points(request.get('obj_bbox'))}")
    if "shapes" in request or "states" in request:
        shapes = request.get("shapes") or []
        states = request.get("states") or []
        parts.append(f"{len(shapes)} shape(s) {_points(shapes)}, {len(states)} state(s)")
    for key in ("boxes0", "boxes1"):
        if key in request:
            boxes = request[key] if isinstance(request[key], list) else []
            parts.append(f"{len(boxes)} {key}")
    if "max_distance" in request:
        parts.append(f"max_distance {request['max_distance']}")
    known = {*IMAGE_FIELDS, "threshold", "pos_points", "neg_points", "obj_bbox", "shapes"}
    known |= {"states", "boxes0", "boxes1", "max_distance"}
    extra = sorted(set(request) - known)
    if extra:
        parts.append(f"also {', '.join(extra)}")
    return ", ".join(parts) or "an empty object", size, images


def judge(exchange: Exchange, cvat_version: str = CVAT_VERSION) -> Verdict:
    """The exchange as invoke would report it: described, judged by the one judge
    (harness.cvat.judge) with the function's declared labels, with its log lines."""
    try:
        request = json.loads(exchange.body) if exchange.body else None
    except ValueError:
        request = None
    images: dict[str, bytes] = {}
    size: tuple[int, int] | None = None
    if request is None:
        sent = f"{len(exchange.body)} bytes that are not JSON"
    else:
        sent, size, images = describe_request(exchange.kind, request)
    kind = exchange.kind or "detector"
    inv = Invocation(kind, sent, request if isinstance(request, dict) else {}, size)
    inv.status, inv.latency_s, inv.error = exchange.status, exchange.latency_s, exchange.error
    inv.text = exchange.answer.decode("utf-8", "replace")
    output: list[str] = []
    if exchange.log_source is not None:
        start, end = exchange.log_marks
        output = exchange.log_source.lines(start)[: end - start]
    if exchange.logs_header is not None:
        try:
            inv.logs = json.loads(exchange.logs_header)
        except ValueError:
            inv.logs = []
    elif exchange.log_source is not None and exchange.status is not None:
        # Nuclio leaves X-Nuclio-Logs out when they are too long: read them from the output
        inv.logs = records_in(logged_since(exchange.log_source, exchange.log_marks[0]))
    if exchange.status == 200 and exchange.kind in ("detector", "interactor", "tracker", "reid"):
        try:
            inv.body = json.loads(inv.text)
        except ValueError:
            inv.body = inv.text
        labels = tuple(exchange.labels) if exchange.labels is not None else None
        inv.findings = Judge(exchange.kind, labels, cvat_version).findings(
            inv.text if isinstance(inv.body, str) else inv.body,
            image_size=size,
            request=request if isinstance(request, dict) else None,
        )
    title = f"{exchange.function} ({exchange.kind or 'no kind'}) via {exchange.via}"
    return Verdict(exchange, Step(title, inv, output), request, images, cvat_version)


def block(verdict: Verdict) -> str:
    """The verdict as the terminal shows it."""
    ex, inv, step = verdict.exchange, verdict.invocation, verdict.step
    when = time.strftime("%H:%M:%S", time.localtime(ex.started))
    lines = [f"== {when} {step.title}: {status_line(inv)}", f"sent: {inv.sent}"]
    if inv.status == 200:
        if ex.kind == "reid":
            lines.append(f"matches: {inv.text.strip()[:300]}")
        elif ex.kind:
            lines.append(shapes_table(inv.shapes))
        lines += findings_lines(inv, verdict.cvat_version)
    if inv.error is not None or inv.status != 200:
        what = f"HTTP {inv.status}" if inv.status is not None else "no answer"
        lines.append(
            f"CVAT fails the request ({what}): an auto-annotation job fails as a whole, an AI"
            " tool shows an error"
        )
        if ex.timed_out and ex.timeout_s:
            lines.append(
                f"CVAT's invoke timeout for this call was {ex.timeout_s:g} s"
                " (CVAT_NUCLIO_DEFAULT_TIMEOUT)"
            )
    if not inv.ok:
        lines += failure_lines(step)
    elif inv.logs:
        lines.append("function log for this request:")
        lines += [f"  {format_record(record)}" for record in inv.logs]
    return "\n".join(lines)


class Verdicts:
    """Judges exchanges on a thread of its own; prints each block, writes --json-log lines
    and hands each verdict to the recorder."""

    def __init__(
        self,
        cvat_version: str = CVAT_VERSION,
        *,
        out: IO[str] | None = None,
        json_log: Path | None = None,
        record: Callable[[Verdict], Any] | None = None,
    ) -> None:
        self.cvat_version = cvat_version
        self.out = out or sys.stdout
        self._json = json_log.open("a", encoding="utf-8") if json_log else None
        self._record = record
        self._queue: queue.Queue[Exchange | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="verdicts", daemon=True)
        self._thread.start()

    def submit(self, exchange: Exchange) -> None:
        self._queue.put(exchange)

    def _run(self) -> None:
        while True:
            exchange = self._queue.get()
            if exchange is None:
                return
            try:
                self._show(judge(exchange, self.cvat_version))
            except Exception as exc:  # a verdict must never stop the dashboard
                print(f"cvat-fn dashboard: cannot judge a request: {exc!r}", file=sys.stderr)

    def _show(self, verdict: Verdict) -> None:
        if self._record is not None:
            try:
                where = self._record(verdict)
            except OSError as exc:
                where = f"cannot record it: {exc}"
        else:
            where = None
        if self._json is not None:  # first: once the block shows, its JSON line is there
            document = verdict.to_json()
            if where:
                document["recorded"] = str(where)
            self._json.write(json.dumps(document, default=str) + "\n")
            self._json.flush()
        text = block(verdict)
        if where:
            text += f"\nrecorded: {where}"
        print(text + "\n", file=self.out, flush=True)

    def close(self) -> None:
        """Judge what is queued, then stop."""
        self._queue.put(None)
        self._thread.join()
        if self._json is not None:
            self._json.close()


def exchange_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The request headers worth keeping with a recording (CVAT's x-nuclio-* included)."""
    return {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}
