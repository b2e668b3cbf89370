"""Answered at all, and answered in a form CVAT accepts: schema, labels, coordinates,
attributes and skeletons. Each finding reaches its check by its code, never by its text."""

from __future__ import annotations

from collections.abc import Collection

from harness.cvat import Finding
from harness.cvat.client import Invocation
from harness.suite.checks import CheckFailed, NotApplicable

OWNERS = {
    "label.unknown": "labels",
    "coord.outside": "coordinates",
    "attr.": "attributes",
    "skeleton.": "skeleton",
}
"""Finding code (or code prefix ending in ".") -> the check that fails on it; every other
code belongs to schema."""

CATEGORIES = ("schema", "labels", "coordinates", "attributes", "skeleton")

STRICTER_THAN_CVAT = frozenset({"coord.outside"})
"""Warning codes a check fails on although CVAT takes the answer: cvat-fn's own rules (a point
off the image is stored by CVAT as sent, but almost always means coordinates computed for
another frame size)."""


def owner(code: str, collected: Collection[str] = CATEGORIES) -> str:
    """The check a finding code belongs to; schema takes it when that check is not part of
    this function's suite (e.g. no attributes declared)."""
    for key, check in OWNERS.items():
        if (code == key or (key.endswith(".") and code.startswith(key))) and check in collected:
            return check
    return "schema"


def category(finding: Finding, collected: Collection[str] = CATEGORIES) -> str:
    """Which check owns a finding."""
    return owner(finding.code, collected)


def check_answered(invocation: Invocation) -> None:
    if invocation.error is not None:
        raise CheckFailed("the function did not answer\n" + invocation.describe())
    if invocation.status != 200:
        raise CheckFailed(
            f"the function answered HTTP {invocation.status}\n" + invocation.describe()
        )


def check_category(
    invocation: Invocation, name: str, collected: Collection[str] = CATEGORIES
) -> None:
    """Fail on the errors and silent losses that belong to check ``name``."""
    if invocation.error is not None or invocation.status != 200:
        raise NotApplicable("no answer to check (see the answered check)")
    found = [
        f
        for f in invocation.findings
        if (f.severity in ("error", "loss") or f.code in STRICTER_THAN_CVAT)
        and category(f, collected) == name
    ]
    if found:
        version = found[0].cvat_version
        broken = sum(f.severity == "error" for f in found)
        dropped = sum(f.severity == "loss" for f in found)
        stricter = len(found) - broken - dropped
        parts = []
        if broken:
            parts.append(f"{broken} {name} error(s) CVAT {version} would not accept")
        if dropped:
            parts.append(f"{dropped} {name} finding(s) CVAT {version} would silently drop")
        if stricter:
            parts.append(
                f"{stricter} {name} finding(s) CVAT {version} stores as sent, which cvat-fn"
                " fails (see the warning)"
            )
        what = " and ".join(parts)
        raise CheckFailed(what + "\n" + invocation.describe())
