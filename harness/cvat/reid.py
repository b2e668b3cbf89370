"""A re-identification answer: a list where item i is the index in ``boxes1`` of the box that
continues ``boxes0[i]``, or -1 for none.

cvat-ai/cvat ``lambda_manager/views.py`` (``LambdaJob._call_reid``) walks
``enumerate(matching)``: ``idx1 >= 0`` links ``boxes1[idx1]`` into ``boxes0[i]``'s track, so an
index past either list fails the job, a box claimed twice ends up in two tracks, and any
negative number means "no match".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.cvat.detector import describe
from harness.cvat.findings import Collector


def _length(request: Mapping[str, Any] | None, key: str) -> int | None:
    value = request.get(key) if request is not None else None
    return len(value) if isinstance(value, list) else None


def validate_reid(
    c: Collector,
    body: Any,
    labels: Sequence[str] | None,
    image_size: tuple[int, int] | None,
    request: Mapping[str, Any] | None,
) -> None:
    if not isinstance(body, list):
        c.error(
            "response",
            f"a re-id function answers a JSON list of indices into boxes1, got {describe(body)}",
        )
        return
    n0, n1 = _length(request, "boxes0"), _length(request, "boxes1")
    if n0 is not None and len(body) != n0:
        c.error(
            "response",
            f"{len(body)} item(s) for the {n0} box(es) of boxes0: item i answers boxes0[i]"
            + (" (CVAT fails the job on the extra ones)" if len(body) > n0 else ""),
        )
    claimed: dict[int, int] = {}
    for i, idx in enumerate(body):
        where = f"[{i}]"
        if isinstance(idx, bool) or not isinstance(idx, int):
            if isinstance(idx, float) and idx.is_integer():
                c.error(where, f"{idx!r} is a float: CVAT indexes boxes1 with it and fails")
            else:
                c.error(where, f"must be an index into boxes1 or -1, got {describe(idx)}")
            continue
        if idx < 0:
            if idx != -1:
                c.warn(where, f"{idx} is taken as 'no match'; say -1")
            continue
        if n1 is not None and idx >= n1:
            c.error(
                where, f"index {idx} is out of range: boxes1 has {n1} boxes (CVAT fails the job)"
            )
            continue
        if idx in claimed:
            c.error(
                where,
                f"boxes1[{idx}] is already matched to boxes0[{claimed[idx]}]: a box continues"
                " one track only",
            )
            continue
        claimed[idx] = i
