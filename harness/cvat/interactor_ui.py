"""What CVAT's UI makes of an interactor's masks, since the server passes the answer through.

Read at cvat-ai/cvat just after v2.73.0 (:data:`UI_READ`): cvat-core ``lambda-manager.ts``
``call`` turns an older ``{"mask": rows}`` answer into run lengths (``rle-utils.ts``
``mask2Rle``; fewer than two runs become ``[0, 0, 0, 0, 0]``), then cvat-ui
``tools-control.tsx`` ``runInteractionRequest`` takes each shape of type ``mask``:
``Int32Array.from(item.points)``, ``receiveContoursFromMask`` (nothing for fewer than 6
numbers, else opencv-wrapper ``getContoursFromStateSync``: ``rle2Mask`` into the box,
``cv.matFromArray``, ``findContours``, and a throw when no contour comes back), a shape with
no contour points is left out, and ``constructFromLatestResponse`` creates a mask object only
from 6 numbers or more. Any throw on the way ends in the notification "Interaction error
occurred" and nothing of that answer is drawn. An object is cropped to the frame when it is
created (cvat-core ``annotations-collection.ts`` ``put``: ``cropMask``, ``[0, 0, 0, 0, 0]``
when no pixel is left on the image).

The helpers mirror JavaScript on parsed JSON values, so that the rules can say what the user
sees instead of what a well-formed answer would be.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from harness.cvat.detector import TOLERANCE_PX, describe
from harness.cvat.findings import Collector

UI_READ = (
    "cvat-ai/cvat just after v2.73.0 (cvat-ui/package.json 2.73.1; v2.73.0's own commit"
    " ac6e63b9 is not stored, so it was read as merged into a fork at 061b6c5b)"
)
"""Where the UI's interactor code was read. Its rules hold since PR #10329 (2.60) except
where :data:`harness.cvat.findings.UI_SKIPS_NON_MASKS_SINCE` says otherwise."""

MIN_POINTS = 6
"""tools-control.tsx ``receiveContoursFromMask``: "minimal non-empty RLE is 6 points"."""

DEFAULT_THRESHOLD = 0.5
"""tools-control.tsx: the confidence slider's starting ``thresholdValue``."""

_NUMERIC = re.compile(
    r"[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+"
)


def js_number(value: Any) -> float:
    """JavaScript's ``Number(value)`` for a parsed JSON value (NaN where JS gives NaN)."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if value is None:
        return 0.0
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:  # JSON.parse reads 10**400 as Infinity
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0.0
        if not _NUMERIC.fullmatch(text):
            return math.nan
        if text[:2].lower() in ("0x", "0b", "0o"):
            return float(int(text, 0))
        return float(text.replace("Infinity", "inf"))
    if isinstance(value, list):  # ToPrimitive: the items joined with commas
        if not value:
            return 0.0
        if len(value) == 1 and not isinstance(value[0], list | dict):
            return 0.0 if value[0] is None else js_number(str(value[0]).lower())
        return math.nan
    return math.nan


def to_int32(value: float) -> int:
    """ECMAScript ToInt32: what an ``Int32Array`` stores (NaN and infinities become 0,
    fractions are cut towards zero, the rest wraps around 2**32)."""
    if not math.isfinite(value):
        return 0
    n = int(value) % 2**32
    return n - 2**32 if n >= 2**31 else n


def int32_array(value: Any) -> list[int] | None:
    """``Int32Array.from(value)``; None where it throws (null or a missing value)."""
    if value is None:
        return None
    if isinstance(value, str):  # a string is iterable: one number a character
        return [to_int32(js_number(ch)) for ch in value]
    if isinstance(value, list):
        return [to_int32(js_number(v)) for v in value]
    return []  # a number, boolean or object: an array-like of length 0


def _js_gt0(value: Any) -> bool:
    return js_number(value) > 0 if not isinstance(value, dict) else False


def _js_same(a: Any, b: Any) -> bool:
    """``a === b`` for parsed JSON scalars (objects and lists are never the same one)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return js_number(a) == js_number(b)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return False


def mask2rle(flat: Sequence[Any]) -> list[int]:
    """cvat-core ``rle-utils.ts`` ``mask2Rle``: the first run counts values ``<= 0``, and a
    new run starts wherever a value is not ``===`` the one before it."""
    acc = [0]
    if not flat:
        return acc
    if _js_gt0(flat[0]):
        acc.append(1)
    else:
        acc[0] = 1
    for before, value in zip(flat, flat[1:], strict=False):
        if _js_same(before, value):
            acc[-1] += 1
        else:
            acc.append(1)
    return acc


def legacy_points(c: Collector, rows: Any) -> list[Any] | None:
    """An older ``{"mask": rows}`` answer as lambda-manager.ts ``call`` rewrites it: the run
    lengths of ``rows.flat()`` and the box ``[0, 0, rows[0].length - 1, rows.length - 1]``;
    None after reporting where the UI throws on it."""
    where = "mask"
    if not isinstance(rows, list) or not rows or rows[0] is None:
        # rows.length / rows[0].length / rows.flat() throw on anything else
        c.error(
            where,
            f"must be a non-empty 2-D array (rows of 0/1), got {describe(rows)}: CVAT's UI fails"
            ' on it ("Interaction error occurred")',
        )
        return None
    first = rows[0]
    width = float(len(first)) if isinstance(first, list | str) else math.nan
    flat: list[Any] = []
    for row in rows:
        if isinstance(row, list):
            flat.extend(row)
        else:
            flat.append(row)
    if any(isinstance(v, list | dict) for v in flat):
        c.loss(where, "nested deeper than rows of numbers: CVAT's UI cannot read it as a mask")
        return None
    if not all(isinstance(r, list) for r in rows):
        k = next(k for k, r in enumerate(rows) if not isinstance(r, list))
        c.loss(
            f"{where}[{k}]",
            f"{describe(rows[k])} is not a row: CVAT's UI joins what it has (rows.flat()) and"
            " cuts it into rows of the first row's length, so the mask is drawn wrong",
            "mask.geometry",
        )
    elif len({len(r) for r in rows}) > 1:
        lengths = sorted({len(r) for r in rows})
        c.loss(
            where,
            f"rows of different lengths {lengths}: CVAT's UI joins them (rows.flat()) and cuts"
            " the result into rows of the first row's length, so the mask is drawn wrong",
            "mask.geometry",
        )
    else:
        meant = [1 if _meant_set(v) else 0 for v in flat]
        if any(not isinstance(v, int | float) for v in flat):
            k = next(k for k, v in enumerate(flat) if not isinstance(v, int | float))
            c.warn(where, f"{describe(flat[k])} among the values: CVAT's UI reads it as a number")
        if _decode(mask2rle(flat), len(flat)) != meant:
            c.loss(
                where,
                "CVAT's UI draws this mask wrong: it starts a new run wherever a value differs"
                " from the one before it (mask2Rle), so only 0 and one value above 0 work",
                "mask.geometry",
            )
    rle = mask2rle(flat)
    if len(rle) < 2:
        return [0, 0, 0, 0, 0]
    return [*rle, 0, 0, width - 1, len(rows) - 1]


def _meant_set(value: Any) -> bool:
    return not isinstance(value, list | dict) and js_number(value) > 0


def _decode(counts: Sequence[int], length: int) -> list[int]:
    """rle-utils.ts ``rle2Mask`` (runs alternate from 0; a run of 0 or less is skipped)."""
    out: list[int] = []
    value = 0
    for count in counts:
        out.extend([value] * max(count, 0))
        value = 1 - value
    return out[:length] + [0] * (length - len(out))


def _visible_ones(counts: Sequence[int], box: Sequence[int], image_size: tuple[int, int]) -> bool:
    """Whether a pixel set in the mask lies on the image (cvat-core ``findMaskBorders``)."""
    xtl, ytl, xbr, _ = box
    width = xbr - xtl + 1
    img_w, img_h = image_size
    start, value = 0, 0
    for count in counts:
        run = max(count, 0)
        if value and run:
            for y in range(start // width, (start + run - 1) // width + 1):
                x0 = max(start - y * width, 0) + xtl
                x1 = min(start + run - 1 - y * width, width - 1) + xtl
                if 0 <= y + ytl < img_h and x1 >= 0 and x0 < img_w:
                    return True
        start += run
        value = 1 - value
    return False


def check_ui_mask(
    c: Collector,
    where: str,
    value: Any,
    image_size: tuple[int, int] | None,
    *,
    legacy: bool = False,
) -> bool:
    """A mask shape's points as the UI takes them (see the module's docstring). Returns
    whether the UI shows a mask for it."""
    if value is None:
        c.error(
            where,
            "missing or null: CVAT's UI fails on Int32Array.from(points) (\"Interaction error"
            ' occurred") and draws nothing of this answer; a mask is run lengths +'
            " [xtl, ytl, xbr, ybr]",
        )
        return False
    points = int32_array(value)
    assert points is not None
    if not isinstance(value, list):
        c.loss(
            where,
            f"{describe(value)}, not a list: CVAT's UI reads it as "
            + (f"{len(points)} numbers" if isinstance(value, str) else "no numbers")
            + " and leaves the shape out, without a word",
            "mask.geometry",
        )
        return False
    changed = [] if legacy else [k for k, v in enumerate(value) if js_number(v) != points[k]]
    if changed:
        k = changed[0]
        more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        c.loss(
            f"{where}[{k}]",
            f"{value[k]!r} is read by CVAT's UI as {points[k]}{more}: it keeps points as 32-bit"
            " integers (Int32Array.from), so this mask is drawn other than sent",
            "mask.geometry",
        )
    if len(points) < MIN_POINTS:
        if len(points) < 4:
            c.loss(
                where,
                f"{len(points)} numbers, but a mask is run lengths + [xtl, ytl, xbr, ybr]: CVAT's"
                f" UI leaves out a mask of fewer than {MIN_POINTS} numbers, without a word",
                "mask.geometry",
            )
        else:
            c.warn(
                where,
                "an empty mask (no run of set pixels): CVAT's UI has nothing to show for it"
                ' ("No shapes to display" when nothing else is)',
                "interactor.nothing-shown",
            )
        return False
    counts, box = points[:-4], points[-4:]
    xtl, ytl, xbr, ybr = box
    width, height = xbr - xtl + 1, ybr - ytl + 1
    if width <= 0 or height <= 0:
        c.error(
            where,
            f"the box [{xtl}, {ytl}, {xbr}, {ybr}] ends before it starts: CVAT's UI fails"
            ' decoding the mask into it ("Interaction error occurred") and draws nothing of'
            " this answer",
            "mask.geometry",
        )
        return False
    area = width * height
    total = sum(max(v, 0) for v in counts)
    if total > area:
        c.error(
            where,
            f"the run lengths add up to {total} pixels, more than the {width}x{height} = {area}"
            " of the box: CVAT's UI fails copying them into the box (cv.matFromArray),"
            ' shows "Interaction error occurred" and draws nothing of this answer',
            "mask.geometry",
        )
        return False
    if not any(v > 0 for v in counts[1::2]):
        c.error(
            where,
            "no pixel is set, yet there are two runs or more: CVAT's UI finds no contour and"
            ' fails ("Interaction error occurred: Empty contour received from state"),'
            " drawing nothing of this answer; answer an empty mask as one run, [width *"
            " height, xtl, ytl, xbr, ybr], or leave it out",
            "interactor.empty-contour",
        )
        return False
    if any(v < 0 for v in counts):
        c.loss(
            where,
            "a negative run length: CVAT's UI skips it but still switches between empty and"
            " set, so the mask is drawn other than meant",
            "mask.geometry",
        )
    elif total < area and not legacy:
        if len(counts) == area and all(v in (0, 1) for v in counts):
            c.loss(
                where,
                f"CVAT will draw this mask wrong: the run lengths add up to {total} pixels but"
                f" the box is {width}x{height} = {area}; this looks like a 0/1 bitmap, but"
                " here CVAT expects run lengths (the first counts 0s) and misreads a bitmap"
                " silently",
                "mask.geometry",
            )
        else:
            c.warn(
                where,
                f"the run lengths cover {total} of the box's {width}x{height} = {area} pixels:"
                " CVAT's UI takes the rest as empty",
                "mask.geometry",
            )
    if image_size is not None:
        _check_on_image(c, where, counts, box, image_size)
    return True


def _check_on_image(
    c: Collector,
    where: str,
    counts: Sequence[int],
    box: Sequence[int],
    image_size: tuple[int, int],
) -> None:
    w, h = image_size
    xtl, ytl, xbr, ybr = box
    tol = TOLERANCE_PX
    if -tol <= xtl and -tol <= ytl and xbr <= w - 1 + tol and ybr <= h - 1 + tol:
        return
    if not _visible_ones(counts, box, image_size):
        c.warn(
            where,
            f"no set pixel of the box [{xtl}, {ytl}, {xbr}, {ybr}] lies on the {w}x{h} image:"
            " CVAT's UI draws the mask off the image, and the object it creates is cropped to"
            " nothing (cvat-core cropMask): an empty mask",
            "coord.outside",
        )
        return
    c.warn(
        where,
        f"the box [{xtl}, {ytl}, {xbr}, {ybr}] reaches outside the {w}x{h} image: CVAT's UI"
        " crops the object to the image when it creates it (cvat-core cropMask)",
        "coord.outside",
    )


def confidence_of(attributes: Any) -> tuple[bool, float | None]:
    """(whether the UI keeps the attributes, the confidence it reads): lambda-manager.ts
    keeps them when every one is ``{spec_id: number, value: string}``; tools-control.tsx
    reads ``+value`` of the first with ``spec_id === 0``."""
    if not isinstance(attributes, list) or not all(
        isinstance(a, dict)
        and isinstance(a.get("spec_id"), int | float)
        and not isinstance(a.get("spec_id"), bool)
        and isinstance(a.get("value"), str)
        for a in attributes
    ):
        return False, None
    found = next((a for a in attributes if a["spec_id"] == 0), None)
    return True, None if found is None else js_number(found["value"])
