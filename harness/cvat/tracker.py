"""A tracker's answer: ``{"shapes": [...], "states": [...]}``, one of each per tracked object.

cvat-ai/cvat ``lambda_manager/views.py`` (``invoke``): CVAT signs every state with
``json.dumps(state)`` (a missing ``states`` fails the call) and hands them back on the next
frame. A function without ``supported_shape_types`` in its metadata uses the legacy interface:
it is sent point lists and answers point lists, which CVAT wraps as rectangles. A function
that declares ``supported_shape_types`` is sent ``{"type", "points"}`` objects and must answer
them, passed to the UI as they are. CVAT's own trackers (siammask, transt) answer the legacy
way; siammask's point lists are polygons of 8 numbers, of which the UI takes the box.

cvat-ui ``tools-control.tsx`` (``checkTrackedStates``) calls ``init_tracking`` (shapes sent, no
states) for objects without a current state and reads only the answer's ``states``, then
``track`` on every new frame (states sent, shapes null), whose ``shapes`` it maps through
``trackedRectangleMapper``: the box around each shape's points, whatever its type. A missing
``shapes`` or a null shape there throws, and the UI shows "Tracking error" for every object of
that tracker.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from harness.cvat.detector import (
    POINT_RULES,
    a,
    check_inside,
    check_rle_mask,
    describe,
    number_list,
)
from harness.cvat.findings import Collector


def _interface(request: Mapping[str, Any] | None, shapes: list[Any]) -> str | None:
    """ "legacy" (point lists) or "typed" ({"type", "points"}), from what was sent, else from
    what came back; None when nothing tells."""
    sent = request.get("shapes") if request is not None else None
    for source in (sent if isinstance(sent, list) else [], shapes):
        for s in source:
            if isinstance(s, Mapping):
                return "typed"
            if isinstance(s, list | tuple):
                return "legacy"
    return None


def _continuing(request: Mapping[str, Any] | None) -> bool | None:
    """True for a ``track`` call (states sent), False for ``init_tracking`` (none), None when
    no request is known: judged then as a ``track`` call, the one the UI makes every frame."""
    if request is None:
        return None
    states = request.get("states")
    return isinstance(states, list) and bool(states)


def _sent_count(request: Mapping[str, Any] | None) -> int | None:
    """Objects sent: CVAT sends one shape per object (null ones when continuing)."""
    if request is None:
        return None
    for key in ("shapes", "states"):
        value = request.get(key)
        if isinstance(value, list) and value:
            return len(value)
    return None


def _check_legacy_shape(
    c: Collector, where: str, shape: Any, image_size: tuple[int, int] | None
) -> None:
    if isinstance(shape, Mapping):
        c.error(
            where,
            "an object, but this function was sent point lists (it declares no"
            " supported_shape_types), so CVAT wraps the answer as a rectangle's points:"
            " answer a point list, or declare supported_shape_types",
        )
        return
    nums = number_list(c, where, shape)
    if nums is None:
        return
    if len(nums) < 4 or len(nums) % 2:
        c.error(
            where,
            f"a tracked shape is [xtl, ytl, xbr, ybr] (or a polygon CVAT boxes), got"
            f" {len(nums)} numbers",
        )
        return
    check_inside(c, where, nums, image_size)


def _check_tracked_points(
    c: Collector, where: str, points: Any, image_size: tuple[int, int] | None
) -> None:
    """No serializer sees a tracker's answer: the UI takes the box around the points' (x, y)
    pairs (tools-control.tsx ``trackedRectangleMapper``), so only too few numbers break it."""
    nums = number_list(c, where, points)
    if nums is None:
        return
    if len(nums) < 2 or len(nums) % 2:
        c.loss(
            where,
            "CVAT's UI will move the object to a nonsense box: it takes the box around the"
            f" (x, y) pairs of the points, and {len(nums)} number(s) are no such pairs",
            "shape.points",
        )
        return
    check_inside(c, where, nums, image_size)


def _check_typed_shape(
    c: Collector,
    where: str,
    shape: Any,
    sent: Any,
    image_size: tuple[int, int] | None,
    boxed: bool,
) -> None:
    """``boxed``: the UI turns this answer into a box (a ``track`` call, not the first one)."""
    if not isinstance(shape, Mapping):
        c.error(
            where,
            f"{describe(shape)}, but this function declares supported_shape_types (it was sent"
            ' {"type", "points"} objects), so CVAT passes shapes on as they are and the UI'
            ' reads shape.type and shape.points: answer {"type", "points"}',
        )
        return
    type_ = shape.get("type")
    if not isinstance(type_, str) or (type_ not in POINT_RULES and type_ != "mask"):
        c.error(f"{where}.type", f"must be a trackable shape type, got {describe(type_)}")
        return
    if isinstance(sent, Mapping) and sent.get("type") not in (None, type_):
        c.warn(f"{where}.type", f'"{type_}" for a "{sent.get("type")}" that was sent')
    if "points" not in shape:
        c.error(f"{where}.points", f"missing: {a(type_)} needs points")
        return
    if type_ == "mask":
        check_rle_mask(c, f"{where}.points", shape["points"], image_size)
    else:
        _check_tracked_points(c, f"{where}.points", shape["points"], image_size)
    if boxed and type_ in _NOT_BOXES:
        c.loss(
            f"{where}.type",
            f"CVAT's UI will move the object to a wrong box: it takes the box around any tracked"
            f" shape's points, and {a(type_)}'s points are {_NOT_BOXES[type_]}; answer the"
            " rectangle that was sent",
            "tracker.boxed",
        )


_NOT_BOXES = {
    "mask": "run lengths followed by its box",
    "ellipse": "its centre and its top-right corner (the box is a quarter of it)",
}
"""Shapes whose points' min/max (``trackedRectangleMapper``) is not the object's box."""


def _check_states(c: Collector, states: list[Any]) -> None:
    for i, state in enumerate(states):
        try:
            json.dumps(state)
        except (TypeError, ValueError) as exc:
            c.error(f"states[{i}]", f"not JSON-serialisable ({exc}): CVAT signs json.dumps(state)")
            continue
        if state is None:
            # views.py signs json.dumps(None) and unsigns it to None: nothing fails in CVAT
            c.warn(
                f"states[{i}]",
                "null: CVAT hands it back as null on the next frame together with a null shape"
                " (shapes are not re-sent when tracking continues), so the function has nothing"
                " to track the object from",
            )


def validate_tracker(
    c: Collector,
    body: Any,
    labels: Sequence[str] | None,
    image_size: tuple[int, int] | None,
    request: Mapping[str, Any] | None,
) -> None:
    if not isinstance(body, Mapping):
        c.error(
            "response",
            f'a tracker answers {{"shapes": [...], "states": [...]}}, got {describe(body)}',
        )
        return
    if "states" not in body:
        old = ' (the single-object {"shape", "state"} answer is gone)' if "state" in body else ""
        c.error("states", f'missing: CVAT reads response["states"] and fails the call{old}')
    continuing = _continuing(request)

    def shapes_finding(where: str, message: str) -> None:
        """An error, except in an init_tracking answer, whose shapes the UI never reads."""
        if continuing is False:
            c.warn(where, f"{message} (harmless on this first call: the UI reads only states)")
        else:
            c.error(where, message)

    if "shapes" not in body:
        shapes_finding(
            "shapes",
            "missing: on a track call the UI maps response.shapes to move each object and"
            " fails ('Tracking error')",
        )
    states, shapes = body.get("states"), body.get("shapes")
    if "states" in body and not isinstance(states, list):
        c.error("states", f"must be a list, one state per object, got {describe(states)}")
    if "shapes" in body and not isinstance(shapes, list):
        c.error("shapes", f"must be a list, one shape per object, got {describe(shapes)}")
    if not isinstance(states, list) or not isinstance(shapes, list):
        if isinstance(states, list):
            _check_states(c, states)
        return
    _check_states(c, states)
    if len(shapes) != len(states):
        shapes_finding(
            "response",
            f"{len(shapes)} shape(s) but {len(states)} state(s): one of each per object",
        )
    sent = _sent_count(request)
    if sent is not None and len(shapes) != sent:
        shapes_finding("shapes", f"{len(shapes)} shape(s) for the {sent} object(s) sent")
    if sent is not None and len(states) != sent:
        c.error("states", f"{len(states)} state(s) for the {sent} object(s) sent")
    interface = _interface(request, shapes)
    sent_shapes = request.get("shapes") if request is not None else None
    for i, shape in enumerate(shapes):
        where = f"shapes[{i}]"
        if continuing is False:
            break  # checkTrackedStates reads only the states of an init_tracking answer
        if shape is None:
            if continuing is not False:
                c.error(
                    where,
                    "null: the UI reads the points of every shape in a track answer"
                    " (trackedRectangleMapper) and fails ('Tracking error'), moving none of"
                    " this tracker's objects; answer the last known shape",
                )
        elif interface == "legacy":
            _check_legacy_shape(c, where, shape, image_size)
        else:
            sent_shape = (
                sent_shapes[i] if isinstance(sent_shapes, list) and i < len(sent_shapes) else None
            )
            _check_typed_shape(c, where, shape, sent_shape, image_size, continuing is not False)
    if interface == "legacy" and any(s is not None for s in shapes):
        c.warn(
            "shapes",
            f"the legacy tracker answer (point lists): CVAT {c.cvat_version} still takes it from"
            " functions without supported_shape_types, as rectangles; declare"
            ' supported_shape_types and answer {"type", "points"}',
        )
