"""Concurrency up to numWorkers: answers under parallel load equal the sequential ones, so
shared state in the handler (a global buffer, a non-reentrant model) shows up here. Answers
with shapes are compared as shapes (harness.suite.similarity.same_shapes: in any order), others as
text. Answers other checks received beside other requests and found different when sent
again alone (harness.suite.checks.target) fail it too."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from harness.cvat.client import Invocation
from harness.suite.checks import CheckFailed
from harness.suite.checks.target import Target
from harness.suite.config import Fixture
from harness.suite.scenario import canonical_answer, frame_size, play, same_answer


def check_concurrency(target: Target, rounds: int = 3) -> int:
    """Send every fixture ``rounds`` times over numWorkers threads, never more requests at once
    than the function has workers (more would only queue, or meet a 503 that is not the
    function's fault); returns the count."""
    workers = max(1, target.spec.num_workers)
    sequential = {f.name: canonical_answer(target.answer(f)) for f in target.fixtures}
    target.idle()  # nothing sent ahead is in flight: at most numWorkers at once
    jobs: list[Fixture] = [f for _ in range(max(rounds, workers)) for f in target.fixtures]

    def send(fixture: Fixture) -> tuple[Fixture, Invocation]:
        return fixture, play(target.client(), fixture)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(send, jobs))
    busy = [(f, inv) for f, inv in results if inv.status in (503, 408)]
    if busy:
        fixture, invocation = busy[0]
        raise CheckFailed(
            f"{len(busy)} of {len(results)} requests sent {workers} at a time found no free"
            f" worker in time or timed out (HTTP {invocation.status}): numWorkers"
            f" ({target.spec.num_workers}) cannot serve that load within"
            " workerAvailabilityTimeoutMilliseconds / eventTimeout\n" + invocation.describe()
        )
    first = {f.name: target.answer(f) for f in target.fixtures}
    sizes = {f.name: frame_size(f) for f in target.fixtures}
    differing = [
        (f, inv) for f, inv in results if not same_answer(first[f.name], inv, sizes[f.name])
    ]
    if differing:
        fixture, invocation = differing[0]
        expected = sequential[fixture.name]
        raise CheckFailed(
            f"not safe under concurrent requests: {len(differing)} of {len(results)} answers"
            f" sent {workers} at a time differ from the sequential ones"
            f"\nsequential answer for {fixture.name}: {expected[:300]}\n" + invocation.describe()
        )
    if target.differing:
        beside, alone = target.differing[0]
        raise CheckFailed(
            f"not safe under concurrent requests: {len(target.differing)} answer(s) the other"
            f" checks received with up to {workers} requests in flight differ from the same"
            f" request's answer sent alone\nanswer sent alone: {canonical_answer(alone)[:300]}\n"
            + beside.describe()
        )
    return len(results)
