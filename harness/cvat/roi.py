"""A region of interest, handled as CVAT's server handles it (CVAT 2.70 and later).

Since 2.70 a detector or an interactor can be run on a part of a frame: the caller adds
``"roi": [xtl, ytl, xbr, ybr]`` (frame pixels) to ``POST /api/lambda/functions/<id>`` or, for
detectors, to ``POST /api/lambda/requests``. The function still receives only an image, so the
server crops the frame, moves an interactor's prompts into the crop, and moves the answer back
into the frame before it is stored or shown. Read from cvat-ai/cvat v2.73.0
``cvat/apps/lambda_manager/utils.py`` (class ``ROIHelper``) and its callers in ``views.py``
(``LambdaFunction.invoke``, ``LambdaFunction._get_roi``, ``FunctionCallRequestViewSet.create``).

The roles, one name each:

- :class:`Roi`: the four integers of the request field ``roi`` (``x1, y1`` the top-left corner
  included, ``x2, y2`` the bottom-right corner excluded, as Pillow's ``crop`` takes them);
  :meth:`Roi.parse` reads ``"X1,Y1,X2,Y2"``, :meth:`Roi.from_value` a JSON value, both refusing
  what ``ROIHelper.parse_roi`` refuses (400 in CVAT), and :meth:`Roi.check_inside` what
  ``ROIHelper.crop_image`` refuses.
- :func:`crop_frame`: the image CVAT sends in place of the frame.
- :func:`prompt_into_crop`: an interactor's ``pos_points``, ``neg_points`` and ``obj_bbox`` as
  the function receives them.
- :func:`detector_answer_to_frame`: a detector's shapes moved back into the frame, as CVAT
  stores them.
- :func:`interactor_answer_to_frame`: an interactor's answer as CVAT hands it to the UI (its
  ``mask`` pasted into a frame-sized array, its ``shapes`` moved back); raises
  :class:`RoiError` where CVAT's server fails the request (HTTP 500).

Everything here works on the function's own answer (not CVAT's stored form), so the rest of
cvat-fn (the judge, the tables, the drawings) reads the result as it reads any answer.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from harness.cvat.findings import Collector, Finding


class RoiError(ValueError):
    """A region CVAT refuses (400), or an answer its ROI handling fails on (500)."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Roi:
    """``[x1, y1, x2, y2]`` in frame pixels; the crop is ``x2 - x1`` by ``y2 - y1``."""

    x1: int
    y1: int
    x2: int
    y2: int

    def __post_init__(self) -> None:
        # ROIHelper.parse_roi: four ints (bool refused), none negative, a positive size
        values = (self.x1, self.y1, self.x2, self.y2)
        if not all(_is_int(v) for v in values):
            raise RoiError(f"roi {list(values)!r}: four integer coordinates [x1, y1, x2, y2]")
        if min(values) < 0:
            raise RoiError(f"roi {list(values)}: coordinates must not be negative")
        if self.x2 <= self.x1 or self.y2 <= self.y1:
            raise RoiError(
                f"roi {list(values)}: empty region (x2 must exceed x1 and y2 must exceed y1)"
            )

    @classmethod
    def from_value(cls, value: Any) -> Roi:
        """A JSON ``[x1, y1, x2, y2]`` as CVAT's ``parse_roi`` takes it: a list of four ints."""
        if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 4:
            raise RoiError(f"roi {value!r}: four integer coordinates [x1, y1, x2, y2]")
        return cls(*value)

    @classmethod
    def parse(cls, text: str) -> Roi:
        """``"X1,Y1,X2,Y2"`` (the command line's form)."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 4:
            raise RoiError(f"roi {text!r}: four integers X1,Y1,X2,Y2, got {len(parts)} values")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise RoiError(f"roi {text!r}: four integers X1,Y1,X2,Y2") from None
        return cls(*values)

    def as_list(self) -> list[int]:
        """The request field's value."""
        return [self.x1, self.y1, self.x2, self.y2]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the crop."""
        return self.x2 - self.x1, self.y2 - self.y1

    def __str__(self) -> str:
        return f"[{self.x1}, {self.y1}, {self.x2}, {self.y2}]"

    def check_inside(self, frame_size: tuple[int, int]) -> None:
        """Raise where ``ROIHelper.crop_image`` (and ``validate_task_roi``) answer 400 "ROI is
        outside the image": a right or bottom edge past the frame's."""
        width, height = frame_size
        if self.x2 > width or self.y2 > height:
            raise RoiError(f"roi {self} is outside the {width}x{height} frame")


def crop_frame(image: bytes, roi: Roi) -> bytes:
    """The image file CVAT sends for ``roi``: the frame opened with Pillow, cropped, and saved
    again in the frame's own format with Pillow's defaults (a JPEG at Pillow's default quality,
    75), PNG only where Pillow names no format (``LambdaFunction._get_roi``,
    ``ROIHelper.crop_image``). The frame is the file CVAT would send without a region."""
    with Image.open(io.BytesIO(image)) as frame:
        roi.check_inside(frame.size)
        crop = frame.crop((roi.x1, roi.y1, roi.x2, roi.y2))
        out = io.BytesIO()
        crop.save(out, format=frame.format or "PNG")
    return out.getvalue()


def frame_size(image: bytes) -> tuple[int, int]:
    """(width, height) of an image file."""
    with Image.open(io.BytesIO(image)) as frame:
        return frame.size


def _shift_pairs(points: Any, dx: int, dy: int, what: str) -> Any:
    # ROIHelper.translate_prompt_points: None stays None, every [x, y] pair moves, anything
    # that is no pair is a 400 ("Interactor prompt points must contain point pairs")
    if points is None:
        return None
    out = []
    for p in points:
        if (
            not isinstance(p, Sequence)
            or isinstance(p, str)
            or len(p) != 2
            or not all(isinstance(v, int | float) for v in p)
        ):
            raise RoiError(f"{what}: {p!r} is not an [x, y] point pair")
        out.append([p[0] + dx, p[1] + dy])
    return out


def prompt_into_crop(
    roi: Roi,
    pos_points: Sequence[Any],
    neg_points: Sequence[Any],
    obj_bbox: Sequence[Any] | None,
) -> tuple[list[list[float]], list[list[float]], list[list[float]] | None]:
    """``(pos_points, neg_points, obj_bbox)`` moved by ``(-x1, -y1)``, as
    ``LambdaFunction.invoke`` sends them with a region (``ROIHelper.translate_prompt_points``).
    Points outside the region are moved all the same (CVAT neither drops nor clips them);
    ``obj_bbox`` None stays None, ``[]`` stays ``[]``."""
    dx, dy = -roi.x1, -roi.y1
    return (
        _shift_pairs(pos_points, dx, dy, "pos_points"),
        _shift_pairs(neg_points, dx, dy, "neg_points"),
        _shift_pairs(obj_bbox, dx, dy, "obj_bbox"),
    )


def _shift_flat(values: Any, dx: int, dy: int) -> Any:
    """``[x0, y0, x1, y1, ...]`` moved (``ROIHelper._translate_anno_points``); an entry that is
    no number is left for the judge to report (CVAT's serializer refuses it first)."""
    if not isinstance(values, list):
        return values
    return [
        v + (dx if i % 2 == 0 else dy) if isinstance(v, int | float) else v
        for i, v in enumerate(values)
    ]


def _shift_tail(values: Any, dx: int, dy: int) -> Any:
    """A mask's run lengths + ``[xtl, ytl, xbr, ybr]``: only the last four move."""
    if not isinstance(values, list):
        return values
    return values[:-4] + _shift_flat(values[-4:], dx, dy)


def _detector_shape(shape: Any, dx: int, dy: int) -> Any:
    if not isinstance(shape, Mapping):
        return shape
    out = dict(shape)
    type_ = shape.get("type")
    if isinstance(type_, str) and type_.lower() == "tag":
        return out  # tags go to CVAT's "tags", which ROIHelper leaves alone
    if type_ == "mask":
        # a detector's mask is {"mask": run lengths + box, "points"?: polygon}; CVAT moves the
        # box (the stored points' last four), and with conv_mask_to_poly the polygon it stores
        # in place of the mask
        if "mask" in out:
            out["mask"] = _shift_tail(out["mask"], dx, dy)
        if "points" in out:
            out["points"] = _shift_flat(out["points"], dx, dy)
    elif "points" in out:
        out["points"] = _shift_flat(out["points"], dx, dy)
    if isinstance(out.get("elements"), list):
        out["elements"] = [_detector_shape(e, dx, dy) for e in out["elements"]]
    return out


def detector_answer_to_frame(shapes: Any, roi: Roi) -> Any:
    """A detector's answer on the crop, moved into the frame as CVAT stores it
    (``ROIHelper.translate_detector_shapes``, applied by ``LambdaFunction.invoke`` after
    ``DetectionResultConverter.convert``): every shape's flat ``points`` by ``(x1, y1)``, a
    mask's box (its last four numbers) but not its run lengths, each skeleton element the same
    way; tags untouched. A new answer; anything that is not a list is returned as is."""
    if not isinstance(shapes, list):
        return shapes
    return [_detector_shape(s, roi.x1, roi.y1) for s in shapes]


class _Unmovable(RoiError):
    """A shape ``ROIHelper.translate_detector_shapes`` raises on (a 500 in CVAT)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}: CVAT cannot move it back into the frame (500)")
        self.where, self.reason = where, reason


def _interactor_shape(shape: Any, dx: int, dy: int, where: str) -> Any:
    # ROIHelper.translate_detector_shapes on an interactor's own shapes (no serializer ran
    # first): what it would raise on becomes an _Unmovable
    if not isinstance(shape, Mapping):
        raise _Unmovable(where, f"a {type(shape).__name__}, not an object")
    out = dict(shape)
    type_ = shape.get("type")
    if type_ == "tag":
        return out
    if "points" in out:
        points = out["points"]
        moved = points[-4:] if type_ == "mask" and isinstance(points, list) else points
        if not isinstance(points, list) or not all(isinstance(v, int | float) for v in moved):
            raise _Unmovable(f"{where}.points", "not a list of numbers")
        if type_ == "mask":
            out["points"] = _shift_tail(points, dx, dy)
        else:
            out["points"] = _shift_flat(points, dx, dy)
    elements = out.get("elements", [])
    if not isinstance(elements, list):
        # CVAT iterates whatever is there: only an empty string or object gets through
        if elements in ("", {}):
            return out
        raise _Unmovable(f"{where}.elements", f"a {type(elements).__name__}, not a list")
    if elements:
        out["elements"] = [
            _interactor_shape(e, dx, dy, f"{where}.elements[{k}]") for k, e in enumerate(elements)
        ]
    return out


def paste_mask(mask: Any, roi: Roi, frame_size: tuple[int, int]) -> list[Any]:
    """The interactor's ``mask`` placed at the region in a frame-sized array of zeros, as
    ``ROIHelper.translate_interactor_response`` does it with numpy: the array keeps the mask's
    dtype, and numpy's broadcasting decides what fits. Raises :class:`RoiError` where that
    assignment fails (CVAT: 500), naming the mask's size and the crop's."""
    width, height = frame_size
    try:
        crop = np.array(mask)
    except (ValueError, TypeError) as exc:
        raise RoiError(f"mask: not an array numpy can read ({exc}): CVAT answers 500") from None
    full = np.zeros((height, width), dtype=crop.dtype)
    try:
        full[roi.y1 : roi.y2, roi.x1 : roi.x2] = crop
    except ValueError:
        raise RoiError(
            f"mask: {describe_mask_size(crop)} does not fit the {roi.size[0]}x{roi.size[1]}"
            f" region {roi}: CVAT answers 500"
        ) from None
    result: list[Any] = full.tolist()
    return result


def describe_mask_size(array: Any) -> str:
    """``"a 10x10 mask"`` (width x height) for a 2-D array, else its numpy shape."""
    shape = np.shape(array) if not isinstance(array, np.ndarray) else array.shape
    if len(shape) == 2:
        return f"a {shape[1]}x{shape[0]} mask"
    return f"a mask of shape {tuple(shape)}"


def interactor_answer_to_frame(answer: Any, roi: Roi, frame_size: tuple[int, int]) -> Any:
    """An interactor's answer on the crop as CVAT's server returns it to the UI
    (``ROIHelper.translate_interactor_response``): ``mask`` pasted into a frame-sized array
    (:func:`paste_mask`), each of ``shapes`` moved back as a detector's are. Any other form
    passes unchanged, as CVAT passes it (a bare list of points is not moved). A new top-level
    object; what it does not move is shared with ``answer``. Raises
    :class:`RoiError` where CVAT's server fails the request (HTTP 500)."""
    if not isinstance(answer, Mapping):
        return answer
    out = dict(answer)
    if "mask" in out:
        out["mask"] = paste_mask(out["mask"], roi, frame_size)
    if isinstance(out.get("shapes"), list):
        out["shapes"] = [
            _interactor_shape(s, roi.x1, roi.y1, f"shapes[{k}]")
            for k, s in enumerate(out["shapes"])
        ]
    return out


def check_answer(
    c: Collector, kind: str, body: Any, roi: Roi, frame_size: tuple[int, int]
) -> None:
    """The judge's rules for an answer to a request sent with ``roi``: what CVAT's moving it
    back fails on (an interactor's mask not of the crop's size, a shape it cannot move: HTTP
    500, so the UI shows nothing) or silently changes (a mask numpy spreads over the region).
    A detector's answer is moved after CVAT's serializer has checked it, so nothing new can
    fail there."""
    if kind != "interactor" or not isinstance(body, Mapping):
        return
    if "mask" in body:
        _check_mask_size(c, body["mask"], roi, frame_size)
    if isinstance(body.get("shapes"), list):
        for k, shape in enumerate(body["shapes"]):
            try:
                _interactor_shape(shape, roi.x1, roi.y1, f"shapes[{k}]")
            except _Unmovable as exc:
                c.error(
                    exc.where,
                    f"{exc.reason}: with a region of interest CVAT moves every shape back into"
                    " the frame and fails the request on this one (500)",
                    "roi.shapes",
                )


def _check_mask_size(c: Collector, mask: Any, roi: Roi, frame_size: tuple[int, int]) -> None:
    width, height = roi.size
    try:
        array = np.array(mask)
    except (ValueError, TypeError):
        c.error(
            "mask",
            "not an array numpy can read: CVAT's pasting it into the frame fails (500)",
            "roi.mask-size",
        )
        return
    if array.shape == (height, width):
        return
    sized = describe_mask_size(array)
    try:
        paste_mask(array, roi, frame_size)
    except RoiError:
        c.error(
            "mask",
            f"{sized}, not the {width}x{height} of the region {roi} it was sent: CVAT pastes"
            " the mask into the frame at the region and fails the request (500)",
            "roi.mask-size",
        )
        return
    c.loss(
        "mask",
        f"{sized}, not the {width}x{height} of the region {roi} it was sent: CVAT's numpy"
        " repeats it over the region, so the UI gets another mask than the one answered",
        "roi.mask-size",
    )


def roi_findings(
    kind: str, body: Any, roi: Roi, frame_size: tuple[int, int], cvat_version: str
) -> list[Finding]:
    """:func:`check_answer` for the judge: findings for an answer (parsed JSON, or its text)
    to a request sent with ``roi`` on a frame of ``frame_size``."""
    if isinstance(body, str | bytes | bytearray):
        try:
            body = json.loads(body)
        except ValueError:
            return []  # not JSON: the judge's own rules say so
    c = Collector(cvat_version, code="roi.shapes")
    check_answer(c, kind, body, roi, frame_size)
    return c.findings
