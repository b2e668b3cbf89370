"""One call to a function as cvat-fn shows it, in text and in JSON: the status, the findings
as CVAT will apply them, and what the function said while a call failed. cvat-fn invoke prints
these after its run, the dashboard for every request CVAT sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.cvat import errors, warnings
from harness.cvat.client import Invocation, shown
from harness.cvat.findings import losses
from harness.output.logformat import format_line, format_records, handler_traceback


@dataclass
class Step:
    """One request of the run and the function output printed while it ran."""

    title: str
    invocation: Invocation
    output: list[str] = field(default_factory=list)
    """The function's own output lines of that time (a crash's traceback is only there)."""


def status_line(inv: Invocation) -> str:
    if inv.error:
        return f"no answer after {inv.latency_s * 1000:.0f} ms: {inv.error}"
    return f"HTTP {inv.status} in {inv.latency_s * 1000:.0f} ms"


def findings_lines(inv: Invocation, cvat_version: str) -> list[str]:
    errs, warns = errors(inv.findings), warnings(inv.findings)
    lost = losses(inv.findings)
    if inv.status != 200:
        return []
    if not inv.findings:
        return [f"valid for CVAT {cvat_version}: no errors, no warnings"]
    dropped = f", {len(lost)} silently dropped" if lost else ""
    lines = [f"CVAT {cvat_version}: {len(errs)} error(s){dropped}, {len(warns)} warning(s)"]
    lines += [f"  error: {f.where}: {f.message}" for f in errs]
    lines += [f"  dropped: {f.where}: {f.message}" for f in lost]
    lines += [f"  warning: {f.where}: {f.message}" for f in warns]
    return lines


def failure_lines(step: Step) -> list[str]:
    """What the function said while it failed: its log records for the request, else its
    output of that time (a worker that died leaves no records, only a traceback)."""
    inv = step.invocation
    lines = []
    if inv.status is not None and inv.status != 200:
        lines.append("answer: " + (shown(inv).strip() or "(empty)"))
    if inv.logs:
        lines.append("function log for this request:")
        lines += format_records(inv.logs, shown=filter(None, [handler_traceback(inv.text)]))
    elif step.output:
        lines.append("function output while this request ran:")
        lines += [f"  {text}" for line in step.output for text in format_line(line).splitlines()]
    else:
        lines.append("the function logged nothing for this request")
    return lines


def step_json(step: Step, kind: str) -> dict[str, Any]:
    inv = step.invocation
    out: dict[str, Any] = {
        "title": step.title,
        "sent": inv.sent,
        "status": inv.status,
        "ok": inv.ok,
        "error": inv.error,
        "latency_ms": round(inv.latency_s * 1000, 3),
        "body": inv.body if inv.status == 200 else inv.text,
        "shapes": [s.to_json() for s in inv.shapes],
        "findings": [
            {
                "severity": f.severity,
                "code": f.code,
                "where": f.where,
                "message": f.message,
                "cvat_version": f.cvat_version,
            }
            for f in inv.findings
        ],
        "logs": inv.logs,
        "output": step.output if not inv.ok else [],
    }
    if inv.roi is not None:
        # the function's answer is "body" (on the crop); "shapes" and "in_frame" are in the
        # frame, as CVAT stores or shows them
        out["roi"] = inv.roi.as_list()
        out["frame_size"] = list(inv.frame_size) if inv.frame_size else None
        out["crop_size"] = list(inv.roi.size)
        out["in_frame"] = inv.moved if inv.status == 200 else None
    if kind == "reid":
        out["matches"] = inv.body if inv.status == 200 and isinstance(inv.body, list) else None
    return out
