"""Send every image of a dataset to a detector as CVAT does, a few in flight at a time.

Streaming: each image is read once, at most ``concurrency`` images are in flight (and
``waiting`` more, sent ahead to wait at the function for a free worker) and as many wait ready
to be sent, and an answer is kept only as its shapes, so memory follows the number of
annotations, not of pixels.
Every answer is appended (and flushed) to an answers file as it arrives, keyed by the image's
content, the function's version and the threshold; ``resume`` reuses the lines whose key
matches, so an interrupted run sends only what is still missing.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from harness.cvat import errors
from harness.cvat.client import FunctionClient, ImageError, Invocation, Reply, read_image
from harness.cvat.requests import detector_body
from harness.cvat.shapes import Shape
from harness.eval.dataset import DatasetImage
from harness.nuclio.runners import cleanup

ANSWERS_FILE = "answers.jsonl"
T = TypeVar("T")


@dataclass
class Answer:
    """One image's outcome: its shapes, or the error that stopped it."""

    name: str
    key: str
    shapes: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    status: int | None = None
    latency_ms: float = 0.0
    reused: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "key": self.key,
            "status": self.status,
            "error": self.error,
            "latency_ms": round(self.latency_ms, 3),
            "shapes": self.shapes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        return cls(
            name=str(data["name"]),
            key=str(data["key"]),
            shapes=list(data.get("shapes") or []),
            error=data.get("error"),
            status=data.get("status"),
            latency_ms=float(data.get("latency_ms") or 0.0),
            reused=True,
        )

    def shape_objects(self) -> list[Shape]:
        from harness.output.report import shape_from_json

        return [shape_from_json(s) for s in self.shapes]


DEFAULT_REPORT_DIRS = ("cvat-fn-report", "cvat-fn-eval")


def function_version(directory: Path, exclude: Sequence[Path] = ()) -> str:
    """A digest of the function directory's files: a changed model or handler is a new
    version even when nobody bumped ``metadata.annotations.version``. Hidden files (``.git``),
    caches and report folders (``exclude``, cvat-fn's default ones) are not the function."""
    skipped = [p.resolve() for p in exclude] + [directory / name for name in DEFAULT_REPORT_DIRS]
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory)
        if any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
            continue
        if path.suffix == ".pyc" or any(path.resolve().is_relative_to(s) for s in skipped):
            continue
        digest.update(str(relative).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def answer_key(image_bytes: bytes, version: str, threshold: float | None) -> str:
    digest = hashlib.sha256(image_bytes).hexdigest()
    return f"{digest[:32]}:{version}:{threshold!r}"


def load_answers(path: Path) -> dict[str, Answer]:
    """The answers file of an earlier run, by key; a line cut short by a kill is skipped."""
    answers: dict[str, Answer] = {}
    if not path.is_file():
        return answers
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            answer = Answer.from_json(json.loads(line))
        except (ValueError, KeyError, TypeError):
            continue
        if answer.error is None:  # a failed image is tried again
            answers[answer.key] = answer
    return answers


def from_invocation(name: str, key: str, inv: Invocation) -> Answer:
    answer = Answer(name, key, status=inv.status, latency_ms=inv.latency_s * 1000)
    if inv.error:
        answer.error = inv.error
    elif inv.status != 200:
        answer.error = f"HTTP {inv.status}: {inv.text.strip()[:300]}"
    elif errors(inv.findings):
        first = errors(inv.findings)[0]
        answer.error = f"an answer CVAT rejects: {first.where}: {first.message}"
    else:
        answer.shapes = [s.to_json() for s in inv.shapes]
    return answer


class AnswerLog:
    """The answers file, appended to line by line and flushed, so a kill loses nothing."""

    def __init__(self, path: Path, keep: list[Answer]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("w", encoding="utf-8")
        self._lock = threading.Lock()
        for answer in keep:
            self.write(answer)

    def write(self, answer: Answer) -> None:
        with self._lock:
            if self._file.closed:  # an answer arriving after the run was stopped
                return
            self._file.write(json.dumps(answer.to_json()) + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


@dataclass
class _Ready:
    """One image, read once: its answer key, and its request as the bytes sent."""

    image: DatasetImage
    key: str
    invocation: Invocation
    body: bytes


def _prepare(
    image: DatasetImage, version: str, threshold: float | None, kind: str
) -> _Ready | Answer:
    """Read the image once: its key, its size and the request body; an Answer with the
    error when the file cannot be read as an image."""
    try:
        data = image.path.read_bytes()
    except OSError as exc:
        return Answer(image.name, "", error=f"{type(exc).__name__}: {exc}")
    key = answer_key(data, version, threshold)
    try:
        _, name, size = read_image(data)
    except ImageError as exc:
        return Answer(image.name, key, error=f"{type(exc).__name__}: {exc}")
    sent = f"{image.name} ({size[0]}x{size[1]}), threshold {threshold}"
    request = {"image": f"<base64 of {len(data)} bytes>", "threshold": threshold}
    invocation = Invocation(kind, sent, request, size)
    return _Ready(image, key, invocation, detector_body(data, threshold))


class Workers:
    """The function's workers seen from the client, for latencies that count from the moment
    a worker took the request. A request sent ahead waits at the function; counted from its
    sending, its latency would include that wait, so sending ahead would inflate the
    latencies eval reports.

    Each answer is matched to the worker that has been free longest, as the client saw it
    (the time of the answer that freed it): the request started when it was sent or when that
    worker freed, whichever is later. The match needs only the order answers arrive in, not
    the order requests reached the function, which near-simultaneous sends do not tell; where
    service times differ, two requests may swap their starts, so single latencies may be off
    by that much, their sum and mean are not."""

    def __init__(self, count: int) -> None:
        self._freed = [float("-inf")] * max(1, count)  # a heap: when each worker freed
        self._lock = threading.Lock()

    @staticmethod
    def sent() -> float:
        """A request is being sent: the time to pass to ``answered`` with its answer."""
        return time.perf_counter()

    def answered(self, sent: float) -> float:
        """The answer to a request sent at ``sent`` arrived: the seconds since a worker took it."""
        now = time.perf_counter()
        with self._lock:
            freed = heapq.heapreplace(self._freed, now)
        return now - max(sent, freed)


def run_images(
    images: list[DatasetImage],
    make_client: Callable[[], FunctionClient],
    *,
    version: str,
    threshold: float | None,
    concurrency: int,
    answers_path: Path,
    resume: bool,
    on_answer: Callable[[DatasetImage, Answer], None],
    waiting: int = 0,
    workers: int | None = None,
    wait_if_faster_than: float | None = None,
) -> None:
    """Send every image not answered before; ``on_answer`` gets each image with its answer
    as it is reused or arrives, one call at a time, from the calling thread.

    Three stages, so that a request never waits for Python work on another image: a reader
    reads each image once (its key for ``resume`` and its request body come from the same
    bytes), ``concurrency`` senders only send and receive, and the calling thread judges each
    answer, records it and hands it on. At most as many bodies wait to be sent as senders.

    ``waiting`` more senders keep as many requests waiting at the function for a free worker
    (of ``workers``, default ``concurrency``), so that a worker starts on the next frame as
    soon as it answers instead of waiting for the client's round trip. They start once an
    answer came back within ``wait_if_faster_than`` seconds (None: at once): a request must
    not wait so long that the function refuses it (Nuclio's worker availability timeout)."""
    earlier = load_answers(answers_path) if resume else {}
    log = AnswerLog(answers_path, [])
    judge = make_client()
    model = Workers(workers or concurrency)
    fast_enough = threading.Event()
    if wait_if_faster_than is None:
        fast_enough.set()
    ready: queue.Queue[_Ready | None] = queue.Queue(maxsize=max(1, concurrency + waiting))
    done: queue.Queue[tuple[DatasetImage, Answer | tuple[_Ready, Reply]]] = queue.Queue()
    stop = threading.Event()
    failures: list[BaseException] = []

    def put(item: _Ready | None) -> None:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def reader() -> None:
        try:
            for image in images:
                if stop.is_set():
                    return
                prepared = _prepare(image, version, threshold, judge.kind)
                if isinstance(prepared, Answer):
                    done.put((image, prepared))
                elif prepared.key in earlier:
                    done.put((image, earlier[prepared.key]))
                else:
                    put(prepared)
        except BaseException as exc:  # a bug here must not vanish with its thread
            failures.append(exc)
            stop.set()
        finally:
            for _ in senders:
                put(None)

    def sender(ahead: bool) -> None:
        try:
            client = make_client()
            if ahead:
                while not fast_enough.wait(0.2):
                    if stop.is_set():
                        return
            while not stop.is_set():
                item = ready.get()
                if item is None:
                    return
                sent = model.sent()
                reply = client.post(item.body)
                reply = replace(reply, latency_s=model.answered(sent))
                if wait_if_faster_than is not None and reply.latency_s < wait_if_faster_than:
                    fast_enough.set()
                done.put((item.image, (item, reply)))
        except BaseException as exc:
            failures.append(exc)
            stop.set()

    lanes = [False] * max(1, min(concurrency, len(images)))
    lanes += [True] * max(0, min(waiting, len(images) - len(lanes)))
    senders = [
        threading.Thread(target=sender, args=(ahead,), name=f"cvat-fn-eval-{n}", daemon=True)
        for n, ahead in enumerate(lanes)
    ]
    threads = [threading.Thread(target=reader, name="cvat-fn-eval-reader", daemon=True)]
    threads += senders
    # On Ctrl-C or SIGTERM this runs before the function is stopped (newest first), so the
    # senders do not run through the remaining images against a function that is gone.
    token = cleanup.register(stop.set)
    try:
        for thread in threads:
            thread.start()
        for _ in images:
            image, outcome = _next(done, stop, failures)
            if isinstance(outcome, Answer):
                answer = outcome
                answer.name = image.name
            else:
                item, reply = outcome
                answer = from_invocation(image.name, item.key, judge.judge(item.invocation, reply))
            log.write(answer)
            on_answer(image, answer)
    finally:
        stop.set()  # the stages stop taking images; one in flight ends with its request
        cleanup.unregister(token)
        log.close()


def _next(done: queue.Queue[T], stop: threading.Event, failures: list[BaseException]) -> T:
    """The next outcome; with a timeout, so that Ctrl-C reaches this thread."""
    while True:
        if failures:
            raise failures[0]
        try:
            return done.get(timeout=0.5)
        except queue.Empty:
            if stop.is_set() and not failures:
                raise RuntimeError("stopped before every image was answered") from None
