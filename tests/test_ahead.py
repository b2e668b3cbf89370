"""Requests sent ahead of the checks (harness.suite.checks.ahead): as many at once as the function
has workers and never more, counted by a real HTTP server; units of dependent requests judged
in order; the threshold checks try the values they planned to."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from hypothesis import strategies as st

from harness.cvat.client import FunctionClient
from harness.nuclio.spec import FunctionSpec
from harness.suite.checks import NotApplicable
from harness.suite.checks.ahead import Ahead
from harness.suite.checks.search import drawn, falsify
from harness.suite.checks.target import Target
from harness.suite.checks.threshold import check_monotone, check_respected, thresholds_read
from harness.suite.config import Fixture, SuiteConfig
from tests.test_concurrency_workers import IMAGE, Counting

EXAMPLES = 4


@pytest.fixture
def counting() -> Iterator[Counting]:
    srv = Counting()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _target(server: Counting, workers: int, check: str) -> tuple[Target, Fixture]:
    spec = FunctionSpec(directory=IMAGE.parent, raw={}, kind="detector", num_workers=workers)
    fixture = Fixture(name="astronaut", image=IMAGE, threshold=0.5)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    planned = [(fixture, t) for t in thresholds_read(check, EXAMPLES)]
    target = Target(
        url=url, spec=spec, config=SuiteConfig(path=None), fixtures=[fixture], planned=planned
    )
    return target, fixture


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("check", ["threshold", "threshold_monotone"])
def test_planned_thresholds_go_as_many_at_once_as_there_are_workers(
    counting: Counting, workers: int, check: str
) -> None:
    target, fixture = _target(counting, workers, check)
    counting.hold_for, counting.released = workers, False
    run = check_respected if check == "threshold" else check_monotone
    try:
        with pytest.raises(NotApplicable):  # the server finds nothing at any threshold
            run(target, fixture, EXAMPLES)
    finally:
        target.close()
    assert counting.most == workers
    tried = {t for (_, t), _ in target.at_threshold_cache()}
    assert tried == set(thresholds_read(check, EXAMPLES))  # nothing more, nothing less


def test_a_request_sent_alone_waits_for_those_sent_ahead(counting: Counting) -> None:
    target, fixture = _target(counting, 3, "threshold")
    counting.hold_for, counting.released = 3, False
    target.at_threshold(fixture, thresholds_read("threshold", EXAMPLES)[0])  # starts the plan
    counting.most = 0
    target.play(fixture)  # the warm check's way: alone
    target.close()
    assert counting.most == 1


def test_the_plan_is_what_the_search_tries() -> None:
    tried: list[float] = []
    falsify(st.floats(0, 1), 6, tried.append, first=(2.0,))
    assert tried == [2.0, *drawn(st.floats(0, 1), 6)]


def _ahead(workers: int) -> Ahead[None]:
    return Ahead(workers, lambda: FunctionClient("http://127.0.0.1:9", "detector"))


def test_units_report_the_first_failure_in_order_and_start_none_after_it() -> None:
    started: list[int] = []
    four_failed = threading.Event()

    def unit(value: int, client: FunctionClient) -> None:
        started.append(value)
        if value == 3:
            four_failed.wait(5)  # fails after 4, but comes first
            raise ValueError("unit 3")
        if value == 4:
            four_failed.set()
            raise ValueError("unit 4")

    ahead = _ahead(2)
    with pytest.raises(ValueError, match="unit 3"):
        ahead.in_order(range(10), unit)
    ahead.close()
    assert sorted(started) == [0, 1, 2, 3, 4]


def test_units_never_run_more_at_once_than_workers() -> None:
    running, most = 0, 0
    full = threading.Condition()

    def unit(value: int, client: FunctionClient) -> None:
        nonlocal running, most
        with full:
            running += 1
            most = max(most, running)
            full.notify_all()
            # hold until the pool is full (a barrier, not a sleep): more would show here
            full.wait_for(lambda: running >= 3 or value >= 18, timeout=5)
            running -= 1

    ahead = _ahead(3)
    ahead.in_order(range(20), unit)
    ahead.close()
    assert most == 3
