"""From a pytest session to cvat-fn's JSON and HTML reports: each check's outcome, each
fixture's expected and returned shapes, the warm latencies."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.output.draw import expected_to_shapes
from harness.output.report import CheckResult, FixtureResult, ReportData, write_html, write_json
from harness.suite.session import CheckItem, FunctionUnderTest


def check_result(item: CheckItem, report: pytest.TestReport) -> CheckResult:
    if report.skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        outcome, message = "skipped", reason.removeprefix("Skipped: ")
    elif report.failed:
        outcome = "failed" if report.when == "call" else "error"
        message = report.longreprtext
    else:
        outcome, message = "passed", ""
    return CheckResult(
        id=item.nodeid,
        check=item.check,
        fixture=item.fixture_name,
        outcome=outcome,  # type: ignore[arg-type]
        message=message,
        duration_s=report.duration,
    )


def report_data(fut: FunctionUnderTest, results: list[CheckResult]) -> ReportData:
    config = fut.config
    target = fut.current_target
    data = ReportData(
        function=fut.spec.name if fut.spec else fut.name,
        directory=str(fut.directory),
        kind=fut.kind,
        runner=fut.options.runtime,
        cvat_version=config.cvat_version if config else "",
        started_at=fut.started_at,
        ready_s=target.ready_seconds if target else None,
        checks=results,
        latencies_ms=list(target.warm_latencies_ms) if target else [],
        budgets=dataclasses.asdict(config.budgets) if config else {},
    )
    if target is None or config is None:
        return data
    for fixture in config.fixtures:
        invocation = target.answers.get(fixture.name)
        if invocation is None:
            continue
        # a tracker's answer is about the frame it tracked into
        image = (
            fixture.next_image if fut.kind == "tracker" and fixture.next_image else fixture.image
        )
        data.fixtures.append(
            FixtureResult.from_invocation(
                fixture.name, image, invocation, expected_to_shapes(fixture.expected or [])
            )
        )
    for name, verdict in target.geometry_shown:
        # a transformed frame the geometry check failed on: its answer, and (dashed) where
        # the frame's own answer puts the shapes
        shown = FixtureResult.from_invocation(
            f"{name} {verdict.view.name}", verdict.view.name, verdict.answer, verdict.mapped
        )
        shown.picture = verdict.view.image
        data.fixtures.append(shown)
    return data


def write_reports(
    functions: list[FunctionUnderTest],
    results: dict[str, list[CheckResult]],
    json_path: str | None,
    html_path: str | None,
) -> list[Path]:
    reports = [report_data(fut, results.get(fut.name, [])) for fut in functions]
    written = []
    if json_path:
        written.append(write_json(reports, json_path))
    if html_path:
        written.append(write_html(reports, html_path))
    return written
