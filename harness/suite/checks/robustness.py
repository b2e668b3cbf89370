"""Robustness: every frame CVAT can send (any size, mode, format; odd thresholds; optional
keys left out) gets a valid 2xx answer, and the next good request still works.

CVAT fails the whole auto-annotation job on any non-2xx (cvat-ai/cvat
``lambda_manager/views.py``, ``LambdaGateway._http``: ``reply.raise_for_status()``), and
every frame generated here is one CVAT can send: image tasks send the original files (JPEG,
PNG, BMP, TIFF, WEBP, 16-bit and CMYK ones included, EXIF orientation untouched), video
tasks re-encoded frames, at any size from one pixel wide to 4K. Malformed requests, which
CVAT never sends (no image, bad base64), may be refused with any status, but the next good
request must still be answered."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from hypothesis import strategies as st
from PIL import Image

from harness.cvat import errors
from harness.cvat.client import FunctionClient, Invocation
from harness.suite.checks import CheckFailed
from harness.suite.checks.search import drawn
from harness.suite.checks.target import Target
from harness.suite.scenario import track_session

MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16")
FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP")
SAVES_MODE = {
    "JPEG": ("L", "RGB", "CMYK"),
    "BMP": ("1", "L", "P", "RGB"),
    "TIFF": ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16"),
    "WEBP": ("RGB", "RGBA"),
    "PNG": ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"),
}
"""Which modes each format stores as they are (others are converted to RGB first)."""
EXIF_ORIENTATION = 0x0112


@dataclass
class Frame:
    data: bytes
    label: str
    width: int
    height: int


def encode(
    rgb: np.ndarray, mode: str, fmt: str, label: str, exif_orientation: int | None = None
) -> Frame:
    """An RGB array as a ``mode`` image file in ``fmt`` (the mode kept where the format
    stores it, else RGB); ``{mode}`` in ``label`` becomes the mode the file really has."""
    height, width = rgb.shape[:2]
    image = Image.fromarray(rgb, "RGB")
    if mode == "I;16":
        grey = rgb.mean(axis=2).astype(np.uint16) * 257  # the full 16-bit range
        image = Image.fromarray(grey.astype("<u2"))  # mode I;16
    elif mode == "P":
        image = image.quantize(16)
    else:
        image = image.convert(mode)
    if mode not in SAVES_MODE[fmt]:
        image = image.convert("RGB")
    buffer = io.BytesIO()
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[EXIF_ORIENTATION] = exif_orientation
        image.save(buffer, fmt, exif=exif.tobytes())
    else:
        image.save(buffer, fmt)
    return Frame(buffer.getvalue(), label.format(mode=image.mode), width, height)


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    width, height = draw(
        st.one_of(
            st.just((1, 1)),
            st.tuples(st.integers(1, 48), st.integers(1, 48)),
            st.tuples(st.integers(48, 1920), st.integers(48, 1080)),
        )
    )
    mode = draw(st.sampled_from(MODES))
    fmt = draw(st.sampled_from(FORMATS))
    content = draw(st.sampled_from(("noise", "flat")))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    if content == "noise":
        rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    else:
        rgb = np.full((height, width, 3), rng.integers(0, 256, 3), dtype=np.uint8)
    return encode(rgb, mode, fmt, f"{width}x{height} {{mode}} {fmt} {content}")


def _gradient(width: int, height: int) -> np.ndarray:
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None, None]
    return np.broadcast_to((x + y) / 2, (height, width, 3)).astype(np.uint8)


def frame_kinds() -> list[Frame]:
    """One frame of every kind CVAT really sends, tried before the generated ones."""
    small = _gradient(64, 48)
    return [
        encode(small, "RGB", "BMP", "64x48 RGB BMP"),
        encode(small, "RGB", "TIFF", "64x48 RGB TIFF"),
        encode(small, "RGB", "WEBP", "64x48 RGB WEBP"),
        encode(small, "I;16", "PNG", "64x48 16-bit greyscale PNG"),
        encode(small, "CMYK", "JPEG", "64x48 CMYK JPEG"),
        encode(small, "RGB", "JPEG", "64x48 RGB JPEG, EXIF orientation 6", exif_orientation=6),
        encode(_gradient(1, 64), "RGB", "PNG", "1x64 RGB PNG (one pixel wide)"),
        encode(_gradient(64, 1), "RGB", "PNG", "64x1 RGB PNG (one pixel high)"),
        encode(_gradient(3840, 2160), "RGB", "JPEG", "3840x2160 RGB JPEG (4K)"),
    ]


def _point(draw: st.DrawFn, frame: Frame) -> list[float]:
    return [
        float(draw(st.integers(0, max(0, frame.width - 1)))),
        float(draw(st.integers(0, max(0, frame.height - 1)))),
    ]


def _box(draw: st.DrawFn, frame: Frame) -> list[float]:
    x1, y1 = _point(draw, frame)
    x2 = float(draw(st.integers(int(x1), max(int(x1), frame.width - 1))))
    y2 = float(draw(st.integers(int(y1), max(int(y1), frame.height - 1))))
    return [x1, y1, x2, y2]


ODD_THRESHOLDS = st.one_of(
    st.none(), st.sampled_from([0.0, 1.0, 1e-9, 0.999999]), st.floats(0.0, 1.0)
)


def fixed_call(kind: str, frame: Frame) -> tuple[str, dict[str, Any]]:
    """The call for ``kind`` on a fixed frame: the middle of the frame as point or box."""
    w, h = frame.width, frame.height
    middle = [float((w - 1) // 2), float((h - 1) // 2)]
    box = [
        float(w // 4),
        float(h // 4),
        float(max(w // 4, (3 * w) // 4 - 1)),
        float(max(h // 4, (3 * h) // 4 - 1)),
    ]
    if kind == "detector":
        return f"{frame.label}, threshold 0.5", {"image": frame.data, "threshold": 0.5}
    if kind == "interactor":
        args: dict[str, Any] = {
            "image": frame.data,
            "pos_points": [middle],
            "neg_points": [],
            "obj_bbox": None,
        }
        return f"{frame.label}, pos [{middle}]", args
    if kind == "tracker":
        return f"{frame.label}, shape {box}", {"image": frame.data, "shapes": [box]}
    if kind == "reid":
        reid_args: dict[str, Any] = {
            "image0": frame.data,
            "image1": frame.data,
            "boxes0": [box],
            "boxes1": [box],
            "threshold": 0.5,
        }
        return f"{frame.label}, 1 -> 1 boxes", reid_args
    raise ValueError(f"unknown function kind {kind!r}")


@st.composite
def calls(draw: st.DrawFn, kind: str) -> tuple[str, dict[str, Any]]:
    """(description, keyword arguments of the FunctionClient method for ``kind``)."""
    frame = draw(frames())
    if kind == "detector":
        threshold = draw(ODD_THRESHOLDS)
        return f"{frame.label}, threshold {threshold}", {
            "image": frame.data,
            "threshold": threshold,
        }
    if kind == "interactor":
        pos = [_point(draw, frame) for _ in range(draw(st.integers(1, 3)))]
        neg = [_point(draw, frame) for _ in range(draw(st.integers(0, 2)))]
        obj_bbox = None
        if draw(st.booleans()):
            x1, y1, x2, y2 = _box(draw, frame)
            obj_bbox = [[x1, y1], [x2, y2]]
        args: dict[str, Any] = {
            "image": frame.data,
            "pos_points": pos,
            "neg_points": neg,
            "obj_bbox": obj_bbox,
        }
        return f"{frame.label}, pos {pos}, neg {neg}, box {obj_bbox}", args
    if kind == "tracker":
        shape = _box(draw, frame)
        return f"{frame.label}, shape {shape}", {"image": frame.data, "shapes": [shape]}
    if kind == "reid":
        boxes0 = [_box(draw, frame) for _ in range(draw(st.integers(0, 3)))]
        boxes1 = [_box(draw, frame) for _ in range(draw(st.integers(0, 3)))]
        threshold = draw(ODD_THRESHOLDS)
        reid_args: dict[str, Any] = {
            "image0": frame.data,
            "image1": frame.data,
            "boxes0": boxes0,
            "boxes1": boxes1,
            "threshold": threshold,
        }
        return (
            f"{frame.label}, {len(boxes0)} -> {len(boxes1)} boxes, threshold {threshold}",
            reid_args,
        )
    raise ValueError(f"unknown function kind {kind!r}")


def _send(client: FunctionClient, kind: str, args: dict[str, Any]) -> Invocation:
    if kind == "detector":
        return client.detect(**args)
    if kind == "interactor":
        return client.interact(**args)
    if kind == "reid":
        return client.reid(**args)
    return track_session(client, args["image"], args["shapes"], args["image"])


def acceptable(invocation: Invocation) -> bool:
    """A valid 2xx answer: CVAT fails the job on anything else."""
    if invocation.error is not None or invocation.status is None:
        return False
    return 200 <= invocation.status < 300 and not errors(invocation.findings)


MALFORMED: dict[str, dict[str, Any]] = {
    "no image": {},
    "bad base64": {"image": "not base64 !!", "image0": "%%%", "image1": "%%%"},
}
"""Requests CVAT never sends; the function may refuse them however it likes."""


class _Unrobust(CheckFailed):
    """The check's failure, with the answer it failed on and that answer's place in the
    unit (0: the frame, 1: the good request after it)."""

    def __init__(self, message: str, invocation: Invocation, role: int) -> None:
        super().__init__(message)
        self.invocation = invocation
        self.role = role


class _UnitFailed(Exception):
    def __init__(self, index: int, failure: _Unrobust) -> None:
        super().__init__(index)
        self.index = index
        self.failure = failure


def robustness_calls(kind: str, examples: int) -> list[tuple[str, dict[str, Any]]]:
    """Every frame the check sends, in order: one of each kind CVAT sends, then the drawn
    ones (encoding them takes a while, so the suite prepares them ahead: Target.prepared)."""
    return [*(fixed_call(kind, frame) for frame in frame_kinds()), *drawn(calls(kind), examples)]


def check_robustness(target: Target, examples: int) -> None:
    """Malformed requests first, then every frame, each with the good request after it as one
    unit, up to numWorkers units at once and judged in order. A unit that fails beside others
    is tried again alone and judged on that (a difference is the concurrency check's)."""
    good = target.fixtures[0]
    kind = target.kind
    plain = target.answer(good)
    if plain.status != 200:
        # nothing sent before it to blame: the function fails on its own good request
        got = f"HTTP {plain.status}" if plain.status is not None else f"no answer ({plain.error})"
        raise CheckFailed(
            f"the plain request ({good.name}) already fails with nothing sent before it ({got}),"
            " so robustness cannot tell what else breaks the function: see the answered check"
            f" (answered[{good.name}]) for the answer and the function's log"
        )

    def next_good_answers(after: str, client: FunctionClient) -> Invocation:
        answer = target.send(good, client=client)
        if answer.status != 200:
            raise _Unrobust(
                f"after the request ({after}) the next good request failed\n" + answer.describe(),
                answer,
                1,
            )
        return answer

    def malformed(name: str, client: FunctionClient) -> list[Invocation]:
        body = MALFORMED[name]
        request = {key: value for key, value in body.items() if key in _KEYS[kind]}
        sent = client.send(request, f"a malformed request ({name})", None)
        if sent.error is not None and "Timeout" in sent.error:
            raise CheckFailed(f"a malformed request ({name}) hung the function\n" + sent.describe())
        return [sent, next_good_answers(f"a malformed request: {name}", client)]

    def survives(call: tuple[str, dict[str, Any]], client: FunctionClient) -> list[Invocation]:
        label, args = call
        invocation = _send(client, kind, args)
        if not acceptable(invocation):
            invocation.sent = label
            refused = (
                f"; CVAT fails the whole job on HTTP {invocation.status}"
                if invocation.status is not None and invocation.status >= 300
                else ""
            )
            raise _Unrobust(
                f"not robust: the function failed on a frame CVAT can send ({label}){refused}\n"
                + invocation.describe(),
                invocation,
                0,
            )
        return [invocation, next_good_answers(label, client)]

    frames = target.prepared(
        ("robustness", kind, examples), partial(robustness_calls, kind, examples)
    )
    units: list[Callable[[FunctionClient], list[Invocation]]] = [
        *(partial(malformed, name) for name in MALFORMED),
        *(partial(survives, call) for call in frames),
    ]

    def unit(index: int, client: FunctionClient) -> None:
        try:
            units[index](client)
        except _Unrobust as exc:
            raise _UnitFailed(index, exc) from None

    start = 0
    while start < len(units):
        try:
            target.in_order(list(range(start, len(units))), unit)
            return
        except _UnitFailed as exc:
            if target.spec.num_workers <= 1:  # nothing else was in flight
                raise exc.failure from None
            alone = units[exc.index](target.client())  # a failure here is the check's
            target.differing.append((exc.failure.invocation, alone[exc.failure.role]))
            start = exc.index + 1


_KEYS = {
    "detector": ("image",),
    "interactor": ("image",),
    "tracker": ("image",),
    "reid": ("image0", "image1"),
}
