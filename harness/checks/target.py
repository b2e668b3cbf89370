"""The function under test as the checks see it: a URL, its spec and cvat-fn.yaml, and the
answers already received, so each fixture is sent once however many checks read it."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.client import FunctionClient, Invocation, LogSource
from harness.config import Fixture, SuiteConfig
from harness.scenario import play
from harness.spec import FunctionSpec


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
    _at_threshold: dict[tuple[str, float], Invocation] = field(default_factory=dict)

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

    def play(self, fixture: Fixture, threshold: float | None = None) -> Invocation:
        invocation = play(self.client(), fixture, threshold)
        if self.first_request_s is None:
            self.first_request_s = invocation.latency_s
        return invocation

    def answer(self, fixture: Fixture) -> Invocation:
        """The fixture's answer, sent once and remembered."""
        if fixture.name not in self.answers:
            self.answers[fixture.name] = self.play(fixture)
        return self.answers[fixture.name]

    def at_threshold(self, fixture: Fixture, threshold: float) -> Invocation:
        key = (fixture.name, round(threshold, 4))
        if key not in self._at_threshold:
            self._at_threshold[key] = self.play(fixture, key[1])
        return self._at_threshold[key]

    def at_threshold_cache(self) -> list[tuple[tuple[str, float], Invocation]]:
        """Every (fixture name, threshold) answer received so far."""
        return list(self._at_threshold.items())
