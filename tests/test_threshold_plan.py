"""The threshold plan: on a frame where the function finds nothing at the fixture's own
threshold, the lowest and the highest thresholds go first, and the ones between only if either
finds something. Answered by a real HTTP server whose answer depends on the threshold (and,
for the geometry check's inconclusive verdict, on how often it was asked)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.nuclio.spec import FunctionSpec
from harness.suite.checks import CheckFailed, NotApplicable
from harness.suite.checks.target import Target
from harness.suite.checks.threshold import check_monotone, check_respected, thresholds_read
from harness.suite.config import Fixture, SuiteConfig
from tests.test_concurrency_workers import IMAGE

EXAMPLES = 4
FACE = {"label": "face", "type": "rectangle", "points": [176, 65, 272, 161]}

Rule = Callable[[float], list[dict[str, object]]]


class Answering(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, rule: Rule) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.rule = rule
        self.thresholds: list[float] = []
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: Answering

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        threshold = float(body.get("threshold", 0.5))
        with self.server.lock:
            self.server.thresholds.append(threshold)
        answer = json.dumps(self.server.rule(threshold)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


def nothing(threshold: float) -> list[dict[str, object]]:
    return []


def below_threshold(threshold: float) -> list[dict[str, object]]:
    """The inverted filter: keeps the one detection (0.8) only when it is *below* the
    threshold, so on the fixture's own 0.5 it finds nothing."""
    return [dict(FACE, confidence=0.8)] if threshold > 0.8 else []


def only_between(threshold: float) -> list[dict[str, object]]:
    """Finds the face only at middling thresholds (not at the ends, not at 0.5 either)."""
    return [dict(FACE, confidence=0.99)] if 0.6 <= threshold <= 0.7 else []


@pytest.fixture
def serve() -> Iterator[Callable[[Rule], Answering]]:
    servers: list[Answering] = []

    def start(rule: Rule) -> Answering:
        srv = Answering(rule)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _target(server: Answering, check: str) -> tuple[Target, Fixture]:
    spec = FunctionSpec(directory=IMAGE.parent, raw={}, kind="detector", num_workers=2)
    fixture = Fixture(name="astronaut", image=IMAGE, threshold=0.5)
    planned = [(fixture, None), *((fixture, t) for t in thresholds_read(check, EXAMPLES))]
    url = f"http://127.0.0.1:{server.server_address[1]}"
    target = Target(
        url=url, spec=spec, config=SuiteConfig(path=None), fixtures=[fixture], planned=planned
    )
    return target, fixture


@pytest.mark.parametrize("check", ["threshold", "threshold_monotone"])
def test_nothing_at_the_ends_sends_nothing_between(
    serve: Callable[[Rule], Answering], check: str
) -> None:
    server = serve(nothing)
    target, fixture = _target(server, check)
    run = check_respected if check == "threshold" else check_monotone
    try:
        with pytest.raises(NotApplicable, match="thresholds between were not tried"):
            run(target, fixture, EXAMPLES)
    finally:
        target.close()
    assert sorted(server.thresholds) == [0.05, 0.5, 0.95]  # its own, then the two ends


def test_the_inverted_filter_shows_at_the_highest_threshold(
    serve: Callable[[Rule], Answering],
) -> None:
    server = serve(below_threshold)
    target, fixture = _target(server, "threshold")
    try:
        with pytest.raises(CheckFailed, match="threshold ignored: at threshold 0.95"):
            check_respected(target, fixture, EXAMPLES)
    finally:
        target.close()


def test_shapes_at_an_end_open_the_whole_plan(serve: Callable[[Rule], Answering]) -> None:
    server = serve(below_threshold)
    target, fixture = _target(server, "threshold_monotone")
    try:
        with pytest.raises(CheckFailed, match="not monotone"):
            check_monotone(target, fixture, EXAMPLES)
    finally:
        target.close()
    assert set(thresholds_read("threshold_monotone", EXAMPLES)) <= set(server.thresholds)


def test_shapes_at_the_fixtures_threshold_send_the_whole_plan_at_once(
    serve: Callable[[Rule], Answering],
) -> None:
    server = serve(lambda t: [dict(FACE, confidence=0.99)])
    target, fixture = _target(server, "threshold")
    try:
        check_respected(target, fixture, EXAMPLES)
    finally:
        target.close()
    assert set(server.thresholds) == {0.5, *thresholds_read("threshold", EXAMPLES)}


def test_a_face_found_only_between_the_ends_is_not_looked_for(
    serve: Callable[[Rule], Answering],
) -> None:
    """The plan's one blind spot, stated: a function that finds something only strictly
    between the ends and not at the fixture's own threshold is skipped as finding nothing."""
    server = serve(only_between)
    target, fixture = _target(server, "threshold")
    try:
        with pytest.raises(NotApplicable):
            check_respected(target, fixture, EXAMPLES)
    finally:
        target.close()


def test_geometry_is_inconclusive_when_the_same_request_answers_differently(
    serve: Callable[[Rule], Answering],
) -> None:
    """Two answers of one request sent alone that differ: a difference under a transform
    would prove nothing, so the geometry check says so instead of judging."""
    from harness.suite.checks.geometry import check_geometry

    calls = []

    def wandering(threshold: float) -> list[dict[str, object]]:
        calls.append(threshold)
        x = 100.0 * len(calls)
        return [dict(FACE, points=[x, 65, x + 96, 161], confidence=0.99)]

    server = serve(wandering)
    target, fixture = _target(server, "threshold")
    target.planned = []  # nothing ahead: every request below is sent alone
    try:
        target.answer(fixture)
        target.at_threshold(fixture, 0.5)
        with pytest.raises(NotApplicable, match="own answers to the same request .* differ"):
            check_geometry(target, fixture, ("flip",), list, generated=False)
    finally:
        target.close()
    assert len(server.thresholds) == 2  # no transformed frame was sent
