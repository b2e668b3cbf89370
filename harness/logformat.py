"""One formatter for a function's log records (Nuclio's JSON lines: datetime, level, message,
with), used wherever the harness shows them: failure reports, invoke and serve."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def format_record(record: Mapping[str, Any], *, stamped: bool = False) -> str:
    """``[level] message {with}``; ``stamped``: ``datetime level who: message {with}``, as a
    terminal tailing the function shows it."""
    extra = record.get("with") or {}
    more = " " + json.dumps(extra, default=str) if extra else ""
    level = str(record.get("level", "?"))
    message = str(record.get("message", ""))
    if not stamped:
        return f"[{level}] {message}{more}"
    who = record.get("name") or (
        f"worker {record['worker']}" if record.get("worker") is not None else ""
    )
    when = str(record.get("datetime", "")).replace("T", " ")
    return f"{when} {level:<5} {who + ': ' if who else ''}{message}{more}".strip()


def format_line(line: str) -> str:
    """A runtime JSON log line as one readable line; anything else as it came."""
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict) or "message" not in record:
        return line
    return format_record(record, stamped=True)
