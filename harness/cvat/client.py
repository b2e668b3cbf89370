"""Speaks CVAT to a function's URL: one call per kind, each answer an Invocation that keeps
what was sent, what came back, what is wrong with it, how long it took and the function's
own log lines for that request."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import requests

from harness.cvat import CVAT_VERSION, Finding, shapes_from_response
from harness.cvat.findings import ROI_SINCE, failing, parse_version
from harness.cvat.judge import Judge
from harness.cvat.requests import (
    detector_request,
    interactor_request,
    reid_request,
    tracker_request,
    tracker_shape,
)
from harness.cvat.roi import (
    Roi,
    RoiError,
    crop_frame,
    detector_answer_to_frame,
    interactor_answer_to_frame,
    prompt_into_crop,
)
from harness.cvat.shapes import Shape
from harness.output.logformat import format_records, handler_traceback, readable_answer

if TYPE_CHECKING:
    from harness.nuclio.spec import FunctionSpec

DEFAULT_TIMEOUT_S = 120.0  # CVAT's CVAT_NUCLIO_DEFAULT_TIMEOUT
SHOWN_CHARS = 600
LOGS_SKIPPED = "Skipped setting logs in header cause of size limit"  # Nuclio's trigger.go
ImageLike = bytes | str | Path


class LogSource(Protocol):
    """A started function's captured output (a runner's LogBuffer), read by line number."""

    def __len__(self) -> int: ...

    def lines(self, since: int = 0) -> list[str]: ...


def records_in(lines: Sequence[str]) -> list[dict[str, Any]]:
    """The function's own log records (worker lines) among captured output lines."""
    found = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "worker" in record and "message" in record:
            found.append(record)
    return found


def logged_since(source: LogSource, mark: int, wait_s: float = 2.0) -> list[str]:
    """Output lines from ``mark`` on, once the processor's note that it left the logs out of
    the header has arrived (the output is copied asynchronously, a container's especially)."""
    deadline = time.monotonic() + wait_s
    while True:
        lines = source.lines(mark)
        if any(LOGS_SKIPPED in line for line in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


class ImageError(ValueError):
    """A file given as an image cannot be read as one."""


def read_image(image: ImageLike) -> tuple[bytes, str, tuple[int, int]]:
    """(file bytes, a name to show, (width, height)); ImageError says which file is wrong."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, bytes):
        data, name = image, f"<{len(image)} bytes>"
    else:
        path = Path(image)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ImageError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise ImageError(f"{path}: is a directory, not an image") from None
        except OSError as exc:
            raise ImageError(f"{path}: cannot be read ({exc.strerror})") from None
        name = path.name
    try:
        with Image.open(io.BytesIO(data)) as img:
            size = img.size
    except (UnidentifiedImageError, OSError):
        raise ImageError(f"{name}: not an image PIL can read") from None
    return data, name, size


@dataclass
class Invocation:
    """One request and its answer, with everything a failure report needs."""

    kind: str
    sent: str
    request: dict[str, Any]
    image_size: tuple[int, int] | None
    status: int | None = None
    body: Any = None
    text: str = ""
    findings: list[Finding] = field(default_factory=list)
    latency_s: float = 0.0
    logs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    roi: Roi | None = None
    """The region of interest the request was sent for: ``image_size`` is then the crop's,
    ``body`` the function's answer on the crop, ``in_frame`` that answer moved back."""
    frame_size: tuple[int, int] | None = None
    """With ``roi``: (width, height) of the whole frame."""
    moved: Any = None
    """With ``roi``: the answer moved back into the frame (harness/cvat/roi.py); None where
    CVAT fails to move it (the findings say why)."""

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200 and not failing(self.findings)

    @property
    def in_frame(self) -> Any:
        """The answer as CVAT stores or shows it: ``body``, or with ``roi`` ``moved``."""
        return self.body if self.roi is None else self.moved

    @property
    def shapes(self) -> list[Shape]:
        """The answer's shapes in frame coordinates (moved out of the region, if any)."""
        return shapes_from_response(self.kind, self.in_frame) if self.status == 200 else []

    def describe(self) -> str:
        """What was sent, what came back (cut to a readable length), findings and log lines."""
        lines = [f"sent: {self.sent}"]
        if self.error:
            lines.append(f"no answer: {self.error}")
        else:
            took = f"{self.latency_s * 1000:.0f} ms"
            lines.append(f"got: HTTP {self.status} in {took}: {shown(self)}")
        lines += [f"  {finding}" for finding in self.findings]
        if self.logs:
            lines.append("function log for this request:")
            lines += format_records(self.logs, shown=filter(None, [handler_traceback(self.text)]))
        return "\n".join(lines)


def shown(inv: Invocation) -> str:
    """An answer's text for a person: a handler's exception in full, from the function's own
    frames; anything else cut to a readable length."""
    if handler_traceback(inv.text):
        return readable_answer(inv.text).replace("\n", "\n  ")
    return inv.text if len(inv.text) <= SHOWN_CHARS else inv.text[:SHOWN_CHARS] + " …"


@dataclass
class Reply:
    """What came back for one request, before it is judged (FunctionClient.judge)."""

    status: int | None
    text: str
    headers: Mapping[str, str]
    latency_s: float
    mark: int = 0  # where the function's captured output stood when the request left
    error: str | None = None


class FunctionClient:
    """Calls one running function the way CVAT does and judges every answer (``rules``:
    the kind, declared labels and CVAT release; :meth:`for_function` builds it from a spec,
    as every command and the suite do)."""

    def __init__(
        self,
        url: str,
        kind: str,
        labels: Sequence[Any] | None = None,
        *,
        cvat_version: str = CVAT_VERSION,
        shape_objects: bool = False,
        timeout: float = DEFAULT_TIMEOUT_S,
        log_source: LogSource | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.kind = kind
        self.labels = list(labels) if labels is not None else None
        self.cvat_version = cvat_version
        self.rules = Judge(kind, None if labels is None else tuple(labels), cvat_version)
        self.shape_objects = shape_objects
        self.timeout = timeout
        self.session = requests.Session()
        # Nuclio leaves X-Nuclio-Logs out when the logs are too long; then read them here.
        self.log_source = log_source

    @classmethod
    def for_function(
        cls,
        url: str,
        spec: FunctionSpec | None,
        *,
        kind: str | None = None,
        cvat_version: str = CVAT_VERSION,
        timeout: float = DEFAULT_TIMEOUT_S,
        log_source: LogSource | None = None,
    ) -> FunctionClient:
        """The client for a function read from its directory (or None: ``--url`` alone), its
        answers judged against the labels it declares (:meth:`Judge.for_function`)."""
        judge = Judge.for_function(spec, kind, cvat_version)
        client = cls(
            url,
            judge.kind,
            judge.labels,
            cvat_version=cvat_version,
            shape_objects=bool(spec and spec.annotations.get("supported_shape_types")),
            timeout=timeout,
            log_source=log_source,
        )
        client.rules = judge
        return client

    def send(
        self,
        request: dict[str, Any],
        sent: str,
        image_size: tuple[int, int] | None,
        roi: Roi | None = None,
        frame_size: tuple[int, int] | None = None,
    ) -> Invocation:
        """POST a ready request body as CVAT does (JSON) and check the answer; ``roi`` and
        ``frame_size`` when the body is for a region of a frame (``image_size`` the crop's)."""
        inv = Invocation(self.kind, sent, request, image_size, roi=roi, frame_size=frame_size)
        return self.judge(inv, self.post(request))

    @property
    def sends_roi(self) -> bool:
        """Whether the CVAT release judged for has regions of interest (``ROI_SINCE``)."""
        return parse_version(self.cvat_version) >= ROI_SINCE

    def post(self, body: dict[str, Any] | bytes) -> Reply:
        """POST a request (a dict, or its JSON already encoded) and time the answer."""
        mark = len(self.log_source) if self.log_source is not None else 0
        headers = {"X-Nuclio-Log-Level": "debug"}
        if isinstance(body, bytes):
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            response = self.session.post(
                self.url,
                json=None if isinstance(body, bytes) else body,
                data=body if isinstance(body, bytes) else None,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
            return Reply(None, "", {}, time.perf_counter() - started, mark, error)
        latency = time.perf_counter() - started
        return Reply(response.status_code, response.text, response.headers, latency, mark)

    def judge(self, inv: Invocation, reply: Reply) -> Invocation:
        """Fill ``inv`` from the reply to its request: status, body, findings, log lines."""
        inv.latency_s = reply.latency_s
        if reply.error is not None:
            inv.error = reply.error
            return inv
        inv.status = reply.status
        inv.text = reply.text
        try:
            inv.logs = json.loads(reply.headers.get("X-Nuclio-Logs", "[]"))
        except ValueError:
            inv.logs = []
        if "X-Nuclio-Logs" not in reply.headers and self.log_source is not None:
            inv.logs = records_in(logged_since(self.log_source, reply.mark))
        if reply.status != 200:
            return inv
        try:
            inv.body = json.loads(reply.text)
        except ValueError:
            inv.body = reply.text
        inv.findings = self.rules.findings(
            # a JSON string answer goes in as its text, which validate parses once
            reply.text if isinstance(inv.body, str) else inv.body,
            image_size=inv.image_size,
            request=inv.request,
            roi=inv.roi,
            frame_size=inv.frame_size,
        )
        inv.moved = self._moved(inv)
        return inv

    def _moved(self, inv: Invocation) -> Any:
        if inv.roi is None or inv.frame_size is None:
            return None
        if self.kind == "detector":
            return detector_answer_to_frame(inv.body, inv.roi)
        if self.kind == "interactor":
            try:
                return interactor_answer_to_frame(inv.body, inv.roi, inv.frame_size)
            except RoiError:
                return None
        return inv.body

    def _region(
        self, data: bytes, name: str, size: tuple[int, int], roi: Roi | None
    ) -> tuple[bytes, str, Roi | None]:
        """The image to send and how to describe it: the crop CVAT would send for ``roi``,
        or the frame (no ``roi``, or a release without regions: it sends the frame)."""
        shown = f"{name} ({size[0]}x{size[1]})"
        if roi is None:
            return data, shown, None
        if not self.sends_roi:
            return data, f"{shown} (roi {roi} not sent: CVAT {self.cvat_version} has none)", None
        crop = crop_frame(data, roi)  # RoiError when it is outside the frame
        width, height = roi.size
        return crop, f"{shown} roi {roi}: {width}x{height} crop", roi

    def detect(
        self, image: ImageLike, threshold: float | None = None, roi: Roi | None = None
    ) -> Invocation:
        """Detect on ``image``; with ``roi``, on the crop CVAT sends for it, the answer moved
        back into the frame in ``Invocation.in_frame`` (RoiError: outside the frame)."""
        data, name, size = read_image(image)
        data, shown, roi = self._region(data, name, size, roi)
        sent = f"{shown}, threshold {threshold}"
        if roi is None:
            return self.send(detector_request(data, threshold), sent, size)
        return self.send(detector_request(data, threshold), sent, roi.size, roi, size)

    def interact(
        self,
        image: ImageLike,
        pos_points: Sequence[Sequence[float]],
        neg_points: Sequence[Sequence[float]] = (),
        obj_bbox: Sequence[Sequence[float]] | None = None,
        roi: Roi | None = None,
        text_prompts: Sequence[str] = (),
    ) -> Invocation:
        """Interact on ``image`` with prompts in frame coordinates; with ``roi`` the crop is
        sent and the prompts moved into it, as CVAT does (RoiError: outside the frame)."""
        data, name, size = read_image(image)
        data, shown, roi = self._region(data, name, size, roi)
        sent = f"{shown}, pos {list(pos_points)}, neg {list(neg_points)}"
        if obj_bbox:
            sent += f", box {list(obj_bbox)}"
        request = interactor_request(
            data,
            pos_points,
            neg_points,
            obj_bbox,
            cvat_version=self.cvat_version,
            text_prompts=text_prompts,
        )
        if "text_prompts" in request:
            sent += f", text prompts {request['text_prompts']}"
        if roi is not None:
            moved = prompt_into_crop(
                roi, request["pos_points"], request["neg_points"], request["obj_bbox"]
            )
            request["pos_points"], request["neg_points"], request["obj_bbox"] = moved
            sent += f" (in the crop: pos {moved[0]}, neg {moved[1]}"
            sent += f", box {moved[2]})" if moved[2] else ")"
        if roi is None:
            return self.send(request, sent, size)
        return self.send(request, sent, roi.size, roi, size)

    def track(
        self,
        image: ImageLike,
        shapes: Sequence[Sequence[float]] | None,
        states: Sequence[Any] = (),
    ) -> Invocation:
        """Start tracking ``shapes`` (with no states) or go on from ``states`` (shapes=None)."""
        data, name, size = read_image(image)
        wrapped: list[Any] | None = None
        if shapes is not None:
            wrapped = [
                tracker_shape("rectangle", s) if self.shape_objects else list(s) for s in shapes
            ]
        sent = f"{name} ({size[0]}x{size[1]}), shapes {list(shapes or [])}, {len(states)} states"
        return self.send(tracker_request(data, wrapped, states), sent, size)

    def reid(
        self,
        image0: ImageLike,
        image1: ImageLike,
        boxes0: Sequence[Sequence[float]],
        boxes1: Sequence[Sequence[float]],
        threshold: float | None = None,
        max_distance: float | None = None,
    ) -> Invocation:
        data0, name0, size0 = read_image(image0)
        data1, name1, _ = read_image(image1)
        sent = f"{name0} -> {name1}, {len(boxes0)} -> {len(boxes1)} boxes, threshold {threshold}"
        request = reid_request(data0, data1, boxes0, boxes1, threshold, max_distance)
        return self.send(request, sent, size0)
