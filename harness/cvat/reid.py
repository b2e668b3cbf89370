"""A re-identification answer: a list where item i is the index in ``boxes1`` of the box that
continues ``boxes0[i]``, or -1 for none.

cvat-ai/cvat ``lambda_manager/views.py`` (``LambdaJob._call_reid``) walks
``for idx0, idx1 in enumerate(matching): if idx1 >= 0:`` and links ``boxes1[idx1]`` into
``boxes0[idx0]``'s path. So anything ``>= 0`` cannot compare to (a string, null) or cannot
index a list with (a float) fails the job, as does an index past either list; whatever is
``< 0`` means "no match"; items missing at the end leave their boxes unmatched; true and false
index boxes1[1] and boxes1[0] (Python's bool is an int). A box linked twice sits in two paths,
and building the tracks fails on its second ``box.pop("path_id")`` (KeyError).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.cvat.detector import describe
from harness.cvat.findings import Collector


def _length(request: Mapping[str, Any] | None, key: str) -> int | None:
    value = request.get(key) if request is not None else None
    return len(value) if isinstance(value, list) else None


def _index(c: Collector, where: str, idx: Any) -> int | None:
    """The index into boxes1 CVAT uses for ``idx``, None for "no match" or after an error."""
    if isinstance(idx, bool):
        word = "true" if idx else "false"
        c.warn(
            where, f"{word} is taken as index {int(idx)} (Python's bool is an int); say {int(idx)}"
        )
        return int(idx)
    if isinstance(idx, float):
        if not idx >= 0:  # negative (or NaN): views.py's `idx1 >= 0` is False
            c.warn(where, f"{idx!r} is taken as 'no match'; say -1")
            return None
        c.error(where, f"{idx!r} is a float: CVAT indexes boxes1 with it and fails the job")
        return None
    if not isinstance(idx, int):
        c.error(
            where,
            f"must be an index into boxes1 or -1, got {describe(idx)}: CVAT compares it with 0"
            " and fails the job",
        )
        return None
    if idx < 0:
        if idx != -1:
            c.warn(where, f"{idx} is taken as 'no match'; say -1")
        return None
    return idx


def validate_reid(
    c: Collector,
    body: Any,
    labels: Sequence[str] | None,
    image_size: tuple[int, int] | None,
    request: Mapping[str, Any] | None,
) -> None:
    if isinstance(body, dict | str) and not body:
        # _call_reid: `for idx0, idx1 in enumerate(matching)` -- an empty object or string is
        # iterated as nothing: no matches
        c.warn(
            "response",
            f"{describe(body)}: CVAT iterates it as no matches; answer a JSON list ([])",
        )
        return
    if not isinstance(body, list):
        c.error(
            "response",
            f"a re-id function answers a JSON list of indices into boxes1, got {describe(body)}",
        )
        return
    n0, n1 = _length(request, "boxes0"), _length(request, "boxes1")
    if n0 is not None and len(body) < n0:
        c.warn(
            "response",
            f"{len(body)} item(s) for the {n0} box(es) of boxes0: CVAT leaves the rest"
            " unmatched; answer -1 for each",
        )
    claimed: dict[int, int] = {}
    for i, item in enumerate(body):
        where = f"[{i}]"
        idx = _index(c, where, item)
        if idx is None:
            continue
        if n0 is not None and i >= n0:
            c.error(
                where,
                f"an index for boxes0[{i}], but boxes0 has {n0} box(es): CVAT fails the job"
                " (an extra -1 would be ignored)",
            )
            continue
        if n1 is not None and idx >= n1:
            c.error(
                where, f"index {idx} is out of range: boxes1 has {n1} boxes (CVAT fails the job)"
            )
            continue
        if idx in claimed:
            c.error(
                where,
                f"boxes1[{idx}] is already matched to boxes0[{claimed[idx]}]: CVAT links the box"
                ' into both tracks and fails the job building them (KeyError on its "path_id")',
            )
            continue
        claimed[idx] = i
