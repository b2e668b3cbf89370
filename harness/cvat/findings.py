"""What a response check reports: findings that name the item, the field, the reason and the
CVAT version the verdict holds for, because CVAT's verdicts change between releases."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

CVAT_VERSION = "2.73"
"""The CVAT release validated against by default (cvat-ai/cvat: lambda_manager/views.py,
cvat-core/src/lambda-manager.ts and rle-utils.ts as of that release)."""

INTERACTOR_SHAPES_SINCE = (2, 58)
"""First release whose UI takes an interactor's ``{"shapes": [...]}`` answer (cvat-ai/cvat
PR #10329, merged 2026-03-04). The release number is inferred from the merge date: the sources
checked do not record it. Before it, ``{"mask": 2-D array}`` was the current answer."""

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One thing wrong (or odd) with a response, for one CVAT version."""

    severity: Severity
    where: str
    message: str
    cvat_version: str

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{prefix}{self.where}: {self.message}"


def errors(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that break the function in CVAT (warnings dropped)."""
    return [f for f in findings if f.severity == "error"]


def warnings(findings: Iterable[Finding]) -> list[Finding]:
    """The findings CVAT survives but a model author should read."""
    return [f for f in findings if f.severity == "warning"]


def parse_version(version: str) -> tuple[int, int]:
    """``"2.73"``, ``"v2.73.1"`` -> ``(2, 73)``; ValueError for anything else."""
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", version.strip())
    if not m:
        raise ValueError(f"{version!r} is not a CVAT version such as {CVAT_VERSION!r}")
    return int(m.group(1)), int(m.group(2))


class Collector:
    """Gathers findings for one response, each stamped with the version they hold for."""

    def __init__(self, cvat_version: str = CVAT_VERSION) -> None:
        self.cvat_version = cvat_version
        self.version = parse_version(cvat_version)
        self.findings: list[Finding] = []

    def error(self, where: str, message: str) -> None:
        self.findings.append(Finding("error", where, message, self.cvat_version))

    def warn(self, where: str, message: str) -> None:
        self.findings.append(Finding("warning", where, message, self.cvat_version))
