"""Send every image of a dataset to a detector as CVAT does, a few in flight at a time.

Streaming: at most ``concurrency`` images are read and in flight at once, and an answer is
kept only as its shapes, so memory follows the number of annotations, not of pixels.
Every answer is appended (and flushed) to an answers file as it arrives, keyed by the image's
content, the function's version and the threshold; ``resume`` reuses the lines whose key
matches, so an interrupted run sends only what is still missing.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.client import FunctionClient, Invocation
from harness.cvat import errors
from harness.cvat.shapes import Shape
from harness.eval.dataset import DatasetImage
from harness.runners import cleanup

ANSWERS_FILE = "answers.jsonl"


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
        from harness.report import shape_from_json

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
) -> None:
    """Send every image not answered before; ``on_answer`` gets each image with its answer,
    reused ones first, then as answers arrive (one call at a time, from the sending threads)."""
    earlier = load_answers(answers_path) if resume else {}
    reused: list[tuple[DatasetImage, Answer]] = []
    todo: list[tuple[DatasetImage, str]] = []
    for image in images:
        key = answer_key(image.path.read_bytes(), version, threshold)
        if key in earlier:
            reused.append((image, earlier[key]))
        else:
            todo.append((image, key))
    log = AnswerLog(answers_path, [answer for _, answer in reused])
    # Each sender pulls the next image and handles its answer itself: no hand-off to another
    # thread sits between one answer and the next request.
    source = iter(todo)
    source_lock, deliver_lock = threading.Lock(), threading.Lock()
    stop = threading.Event()
    failures: list[BaseException] = []

    def sender() -> None:
        try:
            client = make_client()
            while not stop.is_set():
                with source_lock:
                    nxt = next(source, None)
                if nxt is None:
                    return
                image, key = nxt
                try:
                    answer = from_invocation(
                        image.name, key, client.detect(image.path.read_bytes(), threshold)
                    )
                except Exception as exc:  # an unreadable image, say: recorded, go on
                    answer = Answer(image.name, key, error=f"{type(exc).__name__}: {exc}")
                log.write(answer)
                with deliver_lock:
                    if not stop.is_set():
                        on_answer(image, answer)
        except BaseException as exc:  # a bug here must not vanish with its thread
            failures.append(exc)
            stop.set()

    senders = [
        threading.Thread(target=sender, name=f"cvat-fn-eval-{n}", daemon=True)
        for n in range(min(concurrency, len(todo)))
    ]
    # On Ctrl-C or SIGTERM this runs before the function is stopped (newest first), so the
    # senders do not run through the remaining images against a function that is gone.
    token = cleanup.register(stop.set)
    try:
        for image, answer in reused:
            answer.name = image.name
            on_answer(image, answer)
        for thread in senders:
            thread.start()
        for thread in senders:
            while thread.is_alive():
                thread.join(0.5)  # with a timeout, so Ctrl-C reaches this thread
        if failures:
            raise failures[0]
    finally:
        stop.set()  # senders stop taking images; one in flight ends with its request
        cleanup.unregister(token)
        log.close()
