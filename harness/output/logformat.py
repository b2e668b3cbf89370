"""One formatter for what a function says, used wherever the harness shows it to a person
(failure reports and the HTML report, invoke, serve, start errors): its log records (Nuclio's
JSON lines: datetime, level, message, with) with their extra fields as key=value, and a
handler's exception once, from the function's own frames.

Nuclio's wrapper answers a handler's exception with ``Exception caught in handler - "<exc>":
<traceback>`` and logs the same traceback in the record's ``traceback`` field; the frames of
the wrapper itself (``_nuclio_wrapper.py``, or cvat-fn's ``harness/nuclio/runtime/wrapper.py``) only
say that the handler was called, so they are left out and counted."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

HANDLER_EXCEPTION = re.compile(
    r'(?s)^(?P<head>Exception caught in handler - ".*?"): (?P<tb>Traceback \(most recent call'
    r" last\):\n.*)$"
)
RUNTIME_FRAME = re.compile(
    r'^  File "(?P<path>[^"]*(?:/harness/nuclio/runtime/wrapper\.py|/_nuclio_wrapper\.py))",'
    r" line \d+,"
    r" in "
)
PLAIN_VALUE = re.compile(r"^[^\s\"'=]+$")
SHOWN_ABOVE = "(shown above)"


def trim_traceback(text: str) -> str:
    """The traceback from the function's own frames, with a line saying how many frames of
    the runtime's wrapper were left out, and which wrapper it was."""
    kept: list[str] = []
    left_out = 0
    note_at: int | None = None
    wrapper = ""
    in_runtime_frame = False
    for line in text.rstrip("\n").splitlines():
        if line.startswith('  File "'):
            runtime = RUNTIME_FRAME.match(line)
            in_runtime_frame = runtime is not None
            if runtime is not None:
                left_out += 1
                wrapper = wrapper or runtime["path"]
                note_at = len(kept) if note_at is None else note_at
                continue
        elif in_runtime_frame and line.startswith("    "):
            continue  # the frame's source line and its ^^^ markers
        else:
            in_runtime_frame = False
        kept.append(line)
    if left_out and note_at is not None:
        note = f"  ({left_out} frame(s) of the runtime's wrapper left out: {wrapper})"
        kept.insert(note_at, note)
    return "\n".join(kept)


def readable_answer(text: str) -> str:
    """An answer's text, a handler exception's traceback trimmed to the function's frames."""
    match = HANDLER_EXCEPTION.match(text)
    if match is None:
        return text
    return match["head"] + "\n" + trim_traceback(match["tb"])


def handler_traceback(text: str) -> str | None:
    """The traceback in a handler-exception answer, as given (None for any other answer)."""
    match = HANDLER_EXCEPTION.match(text)
    return match["tb"] if match else None


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value if PLAIN_VALUE.match(value) else json.dumps(value)
    return json.dumps(value, default=str, separators=(",", ":"))


def format_record(
    record: Mapping[str, Any], *, stamped: bool = False, shown: Iterable[str] = ()
) -> str:
    """``[level] message key=value ...``; ``stamped``: ``datetime level who: message ...``,
    as a terminal tailing the function shows it. A multi-line field (a traceback) follows on
    indented lines, trimmed; one among ``shown`` (already printed) is only referred to."""
    extra = record.get("with") or {}
    already = {t.strip() for t in shown}
    fields: list[str] = []
    blocks: list[str] = []
    for key, value in extra.items() if isinstance(extra, Mapping) else ():
        if isinstance(value, str) and "\n" in value.strip():
            if value.strip() in already:
                fields.append(f"{key}={SHOWN_ABOVE}")
            else:
                fields.append(f"{key}=(below)")
                blocks += ["    " + line for line in trim_traceback(value).splitlines()]
        else:
            fields.append(f"{key}={_value(value)}")
    more = " " + " ".join(fields) if fields else ""
    level = str(record.get("level", "?"))
    message = str(record.get("message", ""))
    if stamped:
        who = record.get("name") or (
            f"worker {record['worker']}" if record.get("worker") is not None else ""
        )
        when = str(record.get("datetime", "")).replace("T", " ")
        head = f"{when} {level:<5} {who + ': ' if who else ''}{message}{more}".strip()
    else:
        head = f"[{level}] {message}{more}"
    return "\n".join([head, *blocks])


def format_records(
    records: Iterable[Mapping[str, Any]], indent: str = "  ", shown: Iterable[str] = ()
) -> list[str]:
    """Each record as its lines, indented for a report."""
    shown = list(shown)
    return [
        indent + line
        for record in records
        for line in format_record(record, shown=shown).splitlines()
    ]


RECORD_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[.,]\d+ +[a-z]+ ")
"""A log record as :func:`format_line` (and Python's logging in a worker) prints it:
``2026-01-02 03:04:05.678 info  processor: ...``."""


def is_record_line(line: str) -> bool:
    """A log record, raw (JSON) or printed by :func:`format_line`."""
    text = line.strip()
    return text.startswith("{") or RECORD_LINE.match(text) is not None


def format_line(line: str) -> str:
    """A runtime JSON log line as readable text; anything else as it came."""
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict) or "message" not in record:
        return line
    return format_record(record, stamped=True)
