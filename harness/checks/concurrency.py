"""Concurrency up to numWorkers: answers under parallel load equal the sequential ones, so
shared state in the handler (a global buffer, a non-reentrant model) shows up here. Answers
with shapes are compared as shapes (harness.similarity.same_shapes: in any order), others as
text."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from harness.checks import CheckFailed
from harness.checks.target import Target
from harness.client import Invocation
from harness.config import Fixture
from harness.scenario import canonical_answer, frame_size, play
from harness.similarity import same_shapes


def same_answer(a: Invocation, b: Invocation, size: tuple[int, int]) -> bool:
    """Equal text, or the same shapes in any order (a set returned unordered is the same)."""
    if canonical_answer(a) == canonical_answer(b):
        return True
    if a.status != 200 or b.status != 200 or not (a.shapes or b.shapes):
        return False
    return same_shapes(a.shapes, b.shapes, size)


def check_concurrency(target: Target, rounds: int = 3) -> int:
    """Send every fixture ``rounds`` times over numWorkers threads, never more requests at once
    than the function has workers (more would only queue, or meet a 503 that is not the
    function's fault); returns the count."""
    workers = max(1, target.spec.num_workers)
    sequential = {f.name: canonical_answer(target.answer(f)) for f in target.fixtures}
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
    return len(results)
