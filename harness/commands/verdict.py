"""cvat-fn verdict: the failed checks of a report.json and why, short enough for a CI log or
a job summary (ci/release.sh prints it when a release is deleted)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.commands.common import UsageError, guarded
from harness.output.logformat import is_record_line

if TYPE_CHECKING:
    from harness.commands.common import SubParsers

MAX_REASONS = 3
MAX_LINE = 300


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "verdict",
        help="print the failed checks of a cvat-fn test report and why (Markdown)",
        description=(__doc__ or "").split("\n\n")[0],
    )
    p.add_argument(
        "report",
        nargs="?",
        type=Path,
        default=Path("cvat-fn-report/report.json"),
        metavar="REPORT_JSON",
        help="default: cvat-fn-report/report.json",
    )
    p.set_defaults(run=guarded("verdict", run))


def reasons(message: str) -> list[str]:
    """The lines of a failure message a reader needs: not the log records (JSON or printed), not the
    traceback frames, not the check's own id."""
    kept = []
    for line in message.splitlines():
        text = line.strip()
        if not text or is_record_line(text) or text.startswith(("Traceback", "File ", "^", "~")):
            continue
        if line.startswith(" "):  # traceback source lines
            continue
        text = text.split(": ", 1)[1] if "::" in text.split(": ", 1)[0] else text
        kept.append(text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…")
        if len(kept) == MAX_REASONS:
            break
    return kept


def summary(report: dict[str, Any]) -> list[str]:
    lines = []
    for function in report.get("functions", []):
        checks = function.get("checks", [])
        bad = [c for c in checks if c.get("outcome") in ("failed", "error")]
        name = function.get("function", "?")
        lines.append(f"{name}: {function.get('verdict', '?')}, {len(bad)} of {len(checks)} "
                     "check(s) failed")  # fmt: skip
        for check in bad:
            where = f" [{check['fixture']}]" if check.get("fixture") else ""
            lines.append(f"- {check.get('check')}{where} ({check.get('outcome')})")
            lines += [f"    {reason}" for reason in reasons(check.get("message") or "")]
    return lines


def run(args: argparse.Namespace) -> int:
    try:
        report = json.loads(args.report.read_text())
    except OSError as exc:
        raise UsageError(f"{args.report}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{args.report}: not a cvat-fn JSON report: {exc}") from None
    if not isinstance(report, dict) or "functions" not in report:
        raise UsageError(f"{args.report}: not a cvat-fn JSON report (no 'functions')")
    print("\n".join(summary(report)))
    return 0 if report.get("verdict") == "passed" else 1
