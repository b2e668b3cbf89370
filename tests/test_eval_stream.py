"""eval's sending stage: every image goes as CVAT's detector request (the body a real HTTP
server receives is ``detector_request`` of the file's bytes), each image is read once, and
never more requests are in flight than ``concurrency``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.cvat.client import FunctionClient
from harness.cvat.requests import detector_body, detector_request
from harness.eval import runner
from harness.eval.dataset import DatasetImage
from harness.eval.runner import Answer, Workers, run_images

IMAGES = Path(__file__).parents[1] / "fixtures" / "images"


class Recording(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hold_for: int) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.bodies: list[bytes] = []
        self.lock = threading.Condition()
        self.in_flight = self.most = 0
        self.hold_for = hold_for


class Handler(BaseHTTPRequestHandler):
    server: Recording

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            self.server.bodies.append(body)
            self.server.in_flight += 1
            self.server.most = max(self.server.most, self.server.in_flight)
            self.server.lock.notify_all()
            # a barrier, not a sleep: hold each request until the client's parallelism shows
            self.server.lock.wait_for(
                lambda: self.server.in_flight >= self.server.hold_for, timeout=2
            )
            self.server.in_flight -= 1
        answer = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recording(request: pytest.FixtureRequest) -> Iterator[Recording]:
    server = Recording(request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("recording", [1, 2], indirect=True)
def test_every_image_goes_as_cvats_request_never_more_at_once(
    recording: Recording, tmp_path: Path
) -> None:
    concurrency = recording.hold_for
    paths = sorted(IMAGES.glob("*.jpg")) * 2
    images = [DatasetImage(f"{i}-{p.name}", p, 0, 0) for i, p in enumerate(paths)]
    url = f"http://127.0.0.1:{recording.server_address[1]}"
    answered: list[tuple[str, Answer]] = []
    run_images(
        images,
        lambda: FunctionClient(url, "detector"),
        version="v",
        threshold=0.5,
        concurrency=concurrency,
        answers_path=tmp_path / "answers.jsonl",
        resume=False,
        on_answer=lambda image, answer: answered.append((image.name, answer)),
    )
    assert sorted(name for name, _ in answered) == sorted(image.name for image in images)
    assert all(answer.error is None for _, answer in answered)
    sent = sorted(json.loads(body)["image"] for body in recording.bodies)
    expected = sorted(detector_request(p.read_bytes(), 0.5)["image"] for p in paths)
    assert sent == expected
    assert all(json.loads(body)["threshold"] == 0.5 for body in recording.bodies)
    assert recording.most == concurrency


@pytest.mark.parametrize("threshold", [None, 0, 0.5, 1e-9])
def test_the_body_is_the_json_of_cvats_request(threshold: float | None) -> None:
    data = (IMAGES / "astronaut.jpg").read_bytes()
    assert json.loads(detector_body(data, threshold)) == detector_request(data, threshold)


class OneWorker(ThreadingHTTPServer):
    """A function with one worker: requests wait their turn, each takes SERVICE_S."""

    daemon_threads = True
    SERVICE_S = 0.2

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), OneWorkerHandler)
        self.worker = threading.Lock()
        self.count = threading.Lock()
        self.in_flight = self.most = 0


class OneWorkerHandler(BaseHTTPRequestHandler):
    server: OneWorker

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.count:
            self.server.in_flight += 1
            self.server.most = max(self.server.most, self.server.in_flight)
        with self.server.worker:  # the worker: one request at a time
            time.sleep(self.server.SERVICE_S)
        with self.server.count:
            self.server.in_flight -= 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"[]")

    def log_message(self, *args: object) -> None:
        pass


def one_worker_run(
    tmp_path: Path, count: int, wait_if_faster_than: float | None = None
) -> tuple[int, list[Answer], float]:
    """``count`` images through a OneWorker, one handled and one more waiting: (the most
    requests the server saw at once, the answers, the seconds it took)."""
    server = OneWorker()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    answered: list[Answer] = []
    path = IMAGES / "astronaut.jpg"
    started = time.monotonic()
    try:
        run_images(
            [DatasetImage(f"{i}.jpg", path, 0, 0) for i in range(count)],
            lambda: FunctionClient(f"http://127.0.0.1:{server.server_address[1]}", "detector"),
            version="v",
            threshold=None,
            concurrency=1,
            waiting=1,
            workers=1,
            wait_if_faster_than=wait_if_faster_than,
            answers_path=tmp_path / "answers.jsonl",
            resume=False,
            on_answer=lambda image, answer: answered.append(answer),
        )
    finally:
        server.shutdown()
        server.server_close()
    return server.most, answered, time.monotonic() - started


def test_requests_sent_ahead_wait_for_the_worker_and_their_latency_counts_from_it(
    tmp_path: Path,
) -> None:
    """With one request waiting at the function, the worker is never idle, yet each image's
    latency is its own service time, not that plus its wait in the queue (which alone would
    make every latency after the first about 2 x SERVICE_S)."""
    most, answered, elapsed = one_worker_run(tmp_path, 6)
    assert most == 2  # one handled, one waiting
    assert all(answer.error is None for answer in answered)
    service_ms = OneWorker.SERVICE_S * 1000
    # counted from the answer before it reached the client, a little after the worker freed
    assert all(0.9 * service_ms <= a.latency_ms < 1.5 * service_ms for a in answered), [
        a.latency_ms for a in answered
    ]
    assert elapsed < 6 * OneWorker.SERVICE_S + 0.5


class Clock:
    """time.perf_counter for harness.eval.runner, moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("first_in", [0, 1])
def test_latency_does_not_depend_on_which_of_two_sends_reached_the_function_first(
    monkeypatch: pytest.MonkeyPatch, first_in: int
) -> None:
    """Two requests sent at once to one worker: the function takes either first, and the
    client cannot tell which. Either way each latency is one service time, not the first
    answer's one and the second's two (the wait at the function counted as latency)."""
    clock = Clock()
    monkeypatch.setattr(runner.time, "perf_counter", clock)
    workers = Workers(1)
    sent = [workers.sent(), workers.sent()]
    clock.now += 0.2
    first = workers.answered(sent[first_in])
    clock.now += 0.2
    second = workers.answered(sent[1 - first_in])
    assert first == pytest.approx(0.2) and second == pytest.approx(0.2)


def test_latency_counts_from_the_send_when_a_worker_was_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two workers, requests sent into an idle function and later: no wait to take off."""
    clock = Clock()
    monkeypatch.setattr(runner.time, "perf_counter", clock)
    workers = Workers(2)
    a, b = workers.sent(), workers.sent()
    clock.now += 0.1
    assert workers.answered(a) == pytest.approx(0.1)
    clock.now += 0.05
    c = workers.sent()  # one worker free since 0.1, one busy with b
    clock.now += 0.1
    assert workers.answered(b) == pytest.approx(0.25)
    clock.now += 0.05
    assert workers.answered(c) == pytest.approx(0.15)


def test_requests_wait_only_once_an_answer_came_back_fast_enough(tmp_path: Path) -> None:
    """An answer slower than ``wait_if_faster_than`` keeps the waiting senders back: a request
    must not wait so long at the function that it refuses it (worker availability timeout)."""
    most, answered, _ = one_worker_run(tmp_path, 3, wait_if_faster_than=OneWorker.SERVICE_S / 2)
    assert most == 1 and len(answered) == 3
