"""Check a function's response against what CVAT does with it, for one CVAT version.

One entry point, :func:`validate`; the rules for each kind live in their own module. Every
finding names the item and field, says why, and carries the CVAT version it holds for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from harness.cvat.detector import validate_detector
from harness.cvat.findings import CVAT_VERSION, Collector, Finding
from harness.cvat.interactor import validate_interactor
from harness.cvat.reid import validate_reid
from harness.cvat.requests import KINDS
from harness.cvat.tracker import validate_tracker

Validator = Callable[
    [Collector, Any, Sequence[str] | None, tuple[int, int] | None, Mapping[str, Any] | None],
    None,
]

_VALIDATORS: dict[str, Validator] = {
    "detector": validate_detector,
    "interactor": validate_interactor,
    "tracker": validate_tracker,
    "reid": validate_reid,
}


def _not_json(c: Collector, text: str) -> None:
    stripped = text.strip()
    if not stripped:
        c.error("response", "empty: CVAT parses every answer as JSON and fails on an empty body")
        return
    hint = ""
    if stripped.startswith("Exception caught in handler"):
        hint = f" - the handler raised: {stripped.splitlines()[0][:200]}"
    elif stripped[0] in "[{" and "'" in stripped:
        hint = (
            " - this looks like a Python repr: Nuclio sends a list given as Response.body as"
            " its repr; return context.Response(body=json.dumps(results),"
            ' content_type="application/json")'
        )
    c.error("response", f"not JSON: CVAT parses every answer as JSON and fails{hint}")


def _label_names(labels: Sequence[Any] | None) -> list[str] | None:
    if labels is None:
        return None
    return [
        label if isinstance(label, str) else str(getattr(label, "name", label)) for label in labels
    ]


def _label_specs(labels: Sequence[Any] | None) -> dict[str, Any] | None:
    """Declared labels by name, when given as objects (``spec.Label``); names alone carry no
    declaration, so the rules that need one stay quiet."""
    if labels is None or not labels or any(isinstance(label, str) for label in labels):
        return None
    return {str(getattr(label, "name", "")): label for label in labels}


def validate(
    kind: str,
    body: Any,
    *,
    labels: Sequence[Any] | None = None,
    image_size: tuple[int, int] | None = None,
    request: Mapping[str, Any] | None = None,
    cvat_version: str = CVAT_VERSION,
) -> list[Finding]:
    """Findings for a ``kind`` function's response ``body`` (parsed JSON; the raw text when the
    response was not JSON).

    ``labels``: the function's label names, or its ``spec.Label`` objects (then attributes
    and skeleton elements are judged against their declarations); ``image_size``:
    ``(width, height)`` of the request's image; ``request``: the body sent (tracker: the
    objects sent; re-id: ``boxes0``/``boxes1``).
    """
    try:
        check = _VALIDATORS[kind]
    except KeyError:
        raise ValueError(f"unknown function kind {kind!r}: CVAT calls {', '.join(KINDS)}") from None
    c = Collector(cvat_version, code=f"{kind}.schema", specs=_label_specs(labels))
    if isinstance(body, bytes | bytearray):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            c.error("response", "not JSON (not even UTF-8 text): CVAT parses every answer as JSON")
            return c.findings
    if isinstance(body, str):
        try:
            parsed = json.loads(body)
        except ValueError:
            _not_json(c, body)
            return c.findings
        if isinstance(parsed, str) and parsed and kind != "detector":
            c.error("response", f"a JSON string, not the {kind}'s answer", "response.form")
            return c.findings
        body = parsed
    check(c, body, _label_names(labels), image_size, request)
    return c.findings
