"""Latency against cvat-fn.yaml's budgets: time to ready, the first request, warm percentiles."""

from __future__ import annotations

import statistics

from harness.cvat.client import Invocation
from harness.output.stats import percentile
from harness.suite.checks import CheckFailed, NotApplicable
from harness.suite.checks.target import Target


def check_ready(target: Target) -> None:
    if target.ready_seconds is None:
        raise NotApplicable("the runner did not measure readiness")
    budget = target.config.budgets.ready_s
    if target.ready_seconds > budget:
        raise CheckFailed(
            f"ready after {target.ready_seconds:.2f} s, budget {budget:g} s (ready_s)"
        )


def check_first_request(target: Target) -> None:
    invocation = target.answer(target.fixtures[0])
    first = target.first_request_s if target.first_request_s is not None else invocation.latency_s
    budget = target.config.budgets.first_request_s
    if first > budget:
        raise CheckFailed(
            f"first request took {first:.2f} s, budget {budget:g} s (first_request_s)\n"
            + invocation.describe()
        )


def check_warm(target: Target, requests: int | None = None) -> dict[str, float]:
    budgets = target.config.budgets
    count = requests or budgets.warm_requests
    fixture = target.fixtures[0]
    target.answer(fixture)  # warm-up
    latencies = []
    slowest: Invocation | None = None
    for _ in range(count):
        invocation = target.play(fixture)
        if invocation.status != 200:
            raise CheckFailed("a warm request failed\n" + invocation.describe())
        latencies.append(invocation.latency_s * 1000)
        if slowest is None or invocation.latency_s > slowest.latency_s:
            slowest = invocation
    target.warm_latencies_ms = latencies
    measured = {
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
    }
    over = [
        f"{name[:-3]} {value:.1f} ms > budget {getattr(budgets, name):g} ms"
        for name, value in measured.items()
        if value > getattr(budgets, name)
    ]
    summary = (
        f"{count} warm requests of {fixture.name}: p50 {measured['p50_ms']:.1f} ms,"
        f" p95 {measured['p95_ms']:.1f} ms, p99 {measured['p99_ms']:.1f} ms,"
        f" mean {statistics.fmean(latencies):.1f} ms"
    )
    if over:
        assert slowest is not None
        slowest_text = slowest.describe()
        raise CheckFailed(
            f"slower than budgeted: {'; '.join(over)}\n{summary}\nthe slowest:\n{slowest_text}"
        )
    return measured
