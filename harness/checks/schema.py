"""Answered at all, and answered in a form CVAT accepts: schema, labels, coordinates."""

from __future__ import annotations

from harness.checks import CheckFailed, NotApplicable
from harness.client import Invocation
from harness.cvat import Finding, errors


def category(finding: Finding) -> str:
    """Which check owns a finding: a label outside the spec, a point outside the image, or
    anything else about the answer's form."""
    if finding.where.endswith(".label") and "not among the function's labels" in finding.message:
        return "labels"
    if "outside the" in finding.message and "image" in finding.message:
        return "coordinates"
    return "schema"


def check_answered(invocation: Invocation) -> None:
    if invocation.error is not None:
        raise CheckFailed("the function did not answer\n" + invocation.describe())
    if invocation.status != 200:
        raise CheckFailed(
            f"the function answered HTTP {invocation.status}\n" + invocation.describe()
        )


def check_category(invocation: Invocation, name: str) -> None:
    if invocation.error is not None or invocation.status != 200:
        raise NotApplicable("no answer to check (see the answered check)")
    found = [f for f in errors(invocation.findings) if category(f) == name]
    if found:
        version = found[0].cvat_version
        raise CheckFailed(
            f"{len(found)} {name} error(s) CVAT {version} would not accept\n"
            + invocation.describe()
        )
