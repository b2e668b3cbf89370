"""The function under test as the checks see it: a URL, its spec and cvat-fn.yaml, and the
answers already received, so each fixture is sent once however many checks read it.

Requests the checks will read are sent ahead, at most numWorkers at once (harness.suite.checks.
ahead); a fixture's own answer, the warm requests and every request a check sends itself are
sent alone. An answer received beside others is provisional: a check that fails on one is
judged again on the same request sent alone (:meth:`Target.judged_alone`), so that only the
concurrency check fails on a function that answers differently under load."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from harness.cvat.client import FunctionClient, Invocation, LogSource
from harness.nuclio.spec import FunctionSpec
from harness.suite.checks import CheckFailed
from harness.suite.checks.ahead import Ahead
from harness.suite.config import Fixture, SuiteConfig
from harness.suite.scenario import frame_size, play, same_answer

T = TypeVar("T")
ThresholdKey = tuple[str, float]


@dataclass
class Target:
    url: str
    spec: FunctionSpec
    config: SuiteConfig
    fixtures: list[Fixture]
    ready_seconds: float | None = None
    first_request_s: float | None = None
    warm_latencies_ms: list[float] = field(default_factory=list)
    answers: dict[str, Invocation] = field(default_factory=dict)
    logs: LogSource | None = None  # the function's captured output, when the runner has it
    planned: list[tuple[Fixture, float | None]] = field(default_factory=list)
    """What the selected checks will read, in their order: a fixture's answer (threshold
    None; sent alone, in this order) or its answer at a threshold (sent ahead)."""
    differing: list[tuple[Invocation, Invocation]] = field(default_factory=list)
    """(an answer received beside other requests, the same request's answer sent alone)
    where the two differ: evidence for the concurrency check."""
    preparations: list[tuple[Hashable, Callable[[], Any]]] = field(default_factory=list)
    """Work the selected checks will need done before they send (no requests), started on
    a thread of its own once the fixture answers are in: :meth:`prepared` takes the result."""
    geometry_shown: list[tuple[str, Any]] = field(default_factory=list)
    """(fixture name, geometry Verdict) of every transformed frame the geometry check failed
    on, for the HTML report to draw."""
    _at_threshold: dict[ThresholdKey, Invocation] = field(default_factory=dict)
    _gated: dict[str, list[float]] = field(default_factory=dict)
    """A fixture's planned thresholds held back until its ends (:meth:`nothing_at_ends`)."""
    _ends: dict[str, tuple[float, float]] = field(default_factory=dict)
    _provisional: set[ThresholdKey] = field(default_factory=set)
    _read: list[ThresholdKey] = field(default_factory=list)
    _ahead: Ahead[Invocation] | None = None
    _going: bool = False

    @property
    def kind(self) -> str:
        return self.spec.kind or "detector"

    def client(self) -> FunctionClient:
        """A fresh client (one per thread: HTTP sessions are not shared across threads)."""
        return FunctionClient.for_function(
            self.url,
            self.spec,
            kind=self.kind,
            cvat_version=self.config.cvat_version,
            log_source=self.logs,
        )

    @property
    def ahead(self) -> Ahead[Invocation]:
        if self._ahead is None:
            self._ahead = Ahead(self.spec.num_workers, self.client)
        return self._ahead

    def send(
        self, fixture: Fixture, threshold: float | None = None, client: FunctionClient | None = None
    ) -> Invocation:
        """Send from this thread now, beside whatever else is in flight."""
        invocation = play(client or self.client(), fixture, threshold)
        if self.first_request_s is None:
            self.first_request_s = invocation.latency_s
        return invocation

    def play(self, fixture: Fixture, threshold: float | None = None) -> Invocation:
        """Send alone: once nothing sent ahead is in flight."""
        self._go()
        self.idle()
        return self.send(fixture, threshold)

    def idle(self) -> None:
        """Wait until nothing sent ahead is in flight."""
        if self._ahead is not None:
            self._ahead.idle()

    def in_order(self, values: list[T], unit: Callable[[T, FunctionClient], None]) -> None:
        """Run units of dependent requests on the pool, at most numWorkers at once
        (:meth:`Ahead.in_order`), once nothing else is in flight."""
        self._go()
        self.idle()
        self.ahead.in_order(values, unit)

    def _go(self) -> None:
        """On the first request: the planned fixture answers, one at a time and in order (the
        first of them is the first request), then the planned threshold answers ahead."""
        if self._going:
            return
        self._going = True
        for fixture, threshold in self.planned:
            if threshold is None:
                self.answer(fixture)
        for key, work in self.preparations:
            self.ahead.prepare(key, work)
        by_fixture: dict[str, list[float]] = {}
        fixtures: dict[str, Fixture] = {}
        for fixture, threshold in self.planned:
            if threshold is not None:
                by_fixture.setdefault(fixture.name, []).append(round(threshold, 4))
                fixtures[fixture.name] = fixture
        for name, thresholds in by_fixture.items():
            fixture = fixtures[name]
            found = self.answers.get(name)
            if found is not None and not found.shapes:
                # nothing on the frame at its own threshold: the ends first, the rest only
                # if either finds something (nothing_at_ends)
                ends = (min(thresholds), max(thresholds))
                self._ends[name] = ends
                self._gated[name] = [t for t in dict.fromkeys(thresholds) if t not in ends]
                thresholds = list(ends)
            self._send_ahead(fixture, thresholds)

    def _send_ahead(self, fixture: Fixture, thresholds: list[float]) -> None:
        for threshold in thresholds:
            key = (fixture.name, threshold)
            if key not in self._at_threshold:
                self.ahead.send(key, partial(self._ahead_at, fixture, threshold))

    def nothing_at_ends(self, fixture: Fixture) -> str | None:
        """Why the thresholds between the lowest and the highest need not be tried: nothing
        on the frame at its own threshold, at the lowest nor at the highest (a filter that
        keeps shapes below the threshold shows at the highest); None when they must be."""
        self._go()
        ends = self._ends.get(fixture.name)
        if ends is None:
            return None
        answers = [self.at_threshold(fixture, t) for t in ends]
        if any(a.shapes or a.status != 200 for a in answers):
            rest = self._gated.pop(fixture.name, [])
            self._ends.pop(fixture.name)
            self._send_ahead(fixture, rest)
            return None
        low, high = ends
        return (
            f"no shapes on {fixture.name} at its own threshold, at the lowest ({low:g}) nor at"
            f" the highest ({high:g}): the {len(self._gated.get(fixture.name, []))} thresholds"
            " between were not tried (nothing to check)"
        )

    def prepared(self, key: Hashable, work: Callable[[], T]) -> T:
        """The result of ``work``, prepared ahead under ``key`` if it was planned."""
        self._go()
        future = self._ahead.prepared(key) if self._ahead is not None else None
        return future.result() if future is not None else work()

    def _ahead_at(self, fixture: Fixture, threshold: float, client: FunctionClient) -> Invocation:
        return self.send(fixture, threshold, client)

    def answer(self, fixture: Fixture) -> Invocation:
        """The fixture's answer, sent once (alone) and remembered."""
        if fixture.name not in self.answers:
            self._go()
        if fixture.name not in self.answers:
            self.answers[fixture.name] = self.play(fixture)
        return self.answers[fixture.name]

    def at_threshold(self, fixture: Fixture, threshold: float) -> Invocation:
        key = (fixture.name, round(threshold, 4))
        if key not in self._at_threshold:
            self._go()
            future = self._ahead.take(key) if self._ahead is not None else None
            if future is None:
                self._at_threshold[key] = self.play(fixture, key[1])
            else:
                self._at_threshold[key] = future.result()
                if self.ahead.workers > 1:  # one worker: nothing else was in flight
                    self._provisional.add(key)
        if key in self._provisional:
            self._read.append(key)
        return self._at_threshold[key]

    def answered_alone_at(self, fixture: Fixture, threshold: float) -> Invocation | None:
        """The fixture's answer at ``threshold`` if one was received with nothing else in
        flight, else None (nothing sent)."""
        key = (fixture.name, round(threshold, 4))
        if key in self._provisional:
            return None
        return self._at_threshold.get(key)

    def at_threshold_cache(self) -> list[tuple[ThresholdKey, Invocation]]:
        """Every (fixture name, threshold) answer received so far."""
        return list(self._at_threshold.items())

    def judged_alone(self, check: Callable[[], T]) -> T:
        """Run ``check``; should it fail having read answers received beside other requests,
        send those again alone, keep any that differ for the concurrency check, and judge
        again, until it passes or fails on answers sent alone."""
        while True:
            self._read = []
            try:
                return check()
            except CheckFailed:
                if not self._confirm_read():
                    raise

    def _confirm_read(self) -> bool:
        keys = list(dict.fromkeys(k for k in self._read if k in self._provisional))
        by_name = {f.name: f for f in self.fixtures}
        for key in keys:
            fixture = by_name[key[0]]
            earlier = self._at_threshold[key]
            alone = self.play(fixture, key[1])
            self._at_threshold[key] = alone
            self._provisional.discard(key)
            if not same_answer(earlier, alone, frame_size(fixture)):
                self.differing.append((earlier, alone))
        return bool(keys)

    def close(self) -> None:
        """Drop requests not sent yet (the session ends, or the function stops)."""
        if self._ahead is not None:
            self._ahead.close()
