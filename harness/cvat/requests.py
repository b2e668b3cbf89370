"""Request bodies exactly as CVAT sends them to a function, one builder per kind.

Checked against cvat-ai/cvat ``cvat/apps/lambda_manager/views.py`` (``LambdaFunction.invoke``):
images are the base64 of the frame's file bytes (``_get_image``); ``threshold`` is added for
every kind, and only when truthy; interactors always get ``pos_points``, ``neg_points`` and
``obj_bbox`` (``[]`` when no box is drawn, as the UI sends it); trackers get ``shapes`` and
``states`` (``[]`` when starting, and since PR #9548 one ``null`` shape per state when
continuing); re-id gets two images and two lists of CVAT shape dicts, ``max_distance`` only
when truthy.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.cvat.findings import (
    CVAT_VERSION,
    OBJ_BBOX_LIST_SINCE,
    TEXT_PROMPTS_SINCE,
    parse_version,
)

KINDS = ("detector", "interactor", "tracker", "reid")

ImageInput = bytes | bytearray | memoryview | str | os.PathLike[str]


def encode_image(image: ImageInput) -> str:
    """Base64 of the image FILE bytes (not decoded pixels), as CVAT's ``_get_image`` does.

    ``bytes`` are taken as the file's content; a ``Path`` (or path string) is read.
    """
    if isinstance(image, bytes | bytearray | memoryview):
        data = bytes(image)
    elif isinstance(image, str | os.PathLike):
        data = Path(image).read_bytes()
    else:
        raise TypeError(f"an image is file bytes or a path, not {type(image).__name__}")
    return base64.b64encode(data).decode("ascii")


def _numbers(values: Sequence[Any], what: str) -> list[float | int]:
    out: list[float | int] = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"{what}: {v!r} is not a number")
        out.append(v)
    return out


def _point_pairs(points: Sequence[Any], what: str) -> list[list[float | int]]:
    """``[[x, y], ...]`` (CVAT's form); a flat ``[x1, y1, x2, y2]`` is paired up."""
    items = list(points)
    if items and all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
        if len(items) % 2:
            raise ValueError(f"{what}: a flat list of coordinates needs an even length")
        return [[items[i], items[i + 1]] for i in range(0, len(items), 2)]
    pairs = []
    for p in items:
        if not isinstance(p, Sequence) or isinstance(p, str) or len(p) != 2:
            raise ValueError(f"{what}: {p!r} is not an [x, y] point")
        pairs.append(_numbers(p, what))
    return pairs


def detector_request(image: ImageInput, threshold: float | None = None) -> dict[str, Any]:
    """``{"image", "threshold"?}``; like CVAT, a threshold of None or 0 is not sent."""
    body: dict[str, Any] = {}
    if threshold:
        body["threshold"] = threshold
    body["image"] = encode_image(image)
    return body


def detector_body(image: bytes, threshold: float | None = None) -> bytes:
    """:func:`detector_request` as the JSON bytes sent, the image's base64 written in once:
    base64 needs no JSON escaping, so the large string is neither copied into a str nor
    scanned again."""
    head, tail = json.dumps(detector_request(b"", threshold)).rsplit('""', 1)
    return b"".join((head.encode(), b'"', base64.b64encode(image), b'"', tail.encode()))


def interactor_request(
    image: ImageInput,
    pos_points: Sequence[Any],
    neg_points: Sequence[Any] = (),
    obj_bbox: Sequence[Any] | None = None,
    threshold: float | None = None,
    cvat_version: str = CVAT_VERSION,
    text_prompts: Sequence[str] = (),
) -> dict[str, Any]:
    """``{"image", "pos_points": [[x, y]...], "neg_points": [...], "obj_bbox",
    "text_prompts"?}``.

    ``text_prompts`` is added last and only when there are some, as ``LambdaFunction.invoke``
    does (``if text_prompts: payload["text_prompts"] = ...``), and only for releases that
    forward it (``TEXT_PROMPTS_SINCE``).

    ``obj_bbox`` is ``[[x1, y1], [x2, y2]]`` (four numbers are paired up); with no box (None
    or empty) it is sent as CVAT's UI sends it in its one interaction flow (cvat-ui
    ``tools-control.tsx`` ``onInteraction``): ``convertShapesForInteractor`` of no rectangle is
    ``[]``, which the server passes on. Only API callers that leave ``obj_bbox`` out get null,
    as every call did before CVAT 2.16 (``OBJ_BBOX_LIST_SINCE``).
    """
    body: dict[str, Any] = {}
    if threshold:
        body["threshold"] = threshold
    bbox: list[list[float | int]] | None = None
    if obj_bbox:
        bbox = _point_pairs(obj_bbox, "obj_bbox")
        if len(bbox) != 2:
            raise ValueError("obj_bbox: a box is two corners [[x1, y1], [x2, y2]]")
    elif parse_version(cvat_version) >= OBJ_BBOX_LIST_SINCE:
        bbox = []
    body.update(
        {
            "image": encode_image(image),
            "pos_points": _point_pairs(pos_points, "pos_points"),
            "neg_points": _point_pairs(neg_points, "neg_points"),
            "obj_bbox": bbox,
        }
    )
    if text_prompts and parse_version(cvat_version) >= TEXT_PROMPTS_SINCE:
        body["text_prompts"] = list(text_prompts)
    return body


def tracker_shape(type_: str, points: Sequence[float]) -> dict[str, Any]:
    """A shape for a tracker that declares ``supported_shape_types``: ``{"type", "points"}``."""
    return {"type": type_, "points": _numbers(points, "points")}


def tracker_request(
    image: ImageInput,
    shapes: Sequence[Any] | None,
    states: Sequence[Any] = (),
    threshold: float | None = None,
) -> dict[str, Any]:
    """``{"image", "shapes", "states"}`` as CVAT's server sends it.

    A shape is a point list (the legacy interface: functions without
    ``supported_shape_types``, rectangles implied), a ``{"type", "points"}`` mapping (functions
    that declare ``supported_shape_types``), or None. Start tracking with shapes and no
    states; continue with the states the function returned and ``shapes=None``, which CVAT
    sends as one null per state.
    """
    state_list = list(states)
    if shapes is None:
        shape_list: list[Any] = [None] * len(state_list)
    else:
        shape_list = []
        for i, s in enumerate(shapes):
            if s is None or isinstance(s, Mapping):
                shape_list.append(None if s is None else dict(s))
            else:
                shape_list.append(_numbers(s, f"shapes[{i}]"))
    if state_list and len(state_list) != len(shape_list):
        raise ValueError(
            f"{len(shape_list)} shapes for {len(state_list)} states: CVAT sends one of each per"
            " tracked object"
        )
    body: dict[str, Any] = {}
    if threshold:
        body["threshold"] = threshold
    body.update({"image": encode_image(image), "shapes": shape_list, "states": state_list})
    return body


def reid_box(points: Sequence[float], frame: int = 0, label_id: int = 0) -> dict[str, Any]:
    """A rectangle as CVAT's ``get_task_data`` serialises it, the form re-id functions receive
    in ``boxes0``/``boxes1`` (CVAT's own read ``box["points"]``)."""
    pts = _numbers(points, "box")
    if len(pts) != 4:
        raise ValueError(f"box: a rectangle is [xtl, ytl, xbr, ybr], got {len(pts)} numbers")
    return {
        "type": "rectangle",
        "occluded": False,
        "outside": False,
        "z_order": 0,
        "rotation": 0.0,
        "points": pts,
        "frame": frame,
        "label_id": label_id,
        "group": 0,
        "source": "manual",
        "attributes": [],
        "elements": [],
    }


def _boxes(boxes: Sequence[Any], frame: int) -> list[dict[str, Any]]:
    return [dict(b) if isinstance(b, Mapping) else reid_box(b, frame=frame) for b in boxes]


def reid_request(
    image0: ImageInput,
    image1: ImageInput,
    boxes0: Sequence[Any],
    boxes1: Sequence[Any],
    threshold: float | None = None,
    max_distance: float | None = None,
) -> dict[str, Any]:
    """``{"image0", "image1", "boxes0", "boxes1", "threshold"?, "max_distance"?}``.

    A box is a CVAT shape dict (passed through) or four numbers (made into one by
    :func:`reid_box`, frame 0 for ``boxes0`` and 1 for ``boxes1``).
    """
    body: dict[str, Any] = {}
    if threshold:
        body["threshold"] = threshold
    body.update(
        {
            "image0": encode_image(image0),
            "image1": encode_image(image1),
            "boxes0": _boxes(boxes0, 0),
            "boxes1": _boxes(boxes1, 1),
        }
    )
    if max_distance:
        body["max_distance"] = max_distance
    return body


_BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "detector": detector_request,
    "interactor": interactor_request,
    "tracker": tracker_request,
    "reid": reid_request,
}


def build_request(kind: str, **parts: Any) -> dict[str, Any]:
    """The request body for a function of ``kind``; ``parts`` are that builder's arguments."""
    try:
        builder = _BUILDERS[kind]
    except KeyError:
        raise ValueError(f"unknown function kind {kind!r}: CVAT calls {', '.join(KINDS)}") from None
    return builder(**parts)
