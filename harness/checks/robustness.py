"""Robustness: every frame CVAT can send (any size, mode, format; odd thresholds; optional
keys left out) gets a valid answer or a clean 4xx, and the next good request still works.
One bad frame fails a whole CVAT auto-annotation job, so a crash here is a failure."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st
from PIL import Image

from harness.checks import CheckFailed
from harness.checks.search import falsify
from harness.checks.target import Target
from harness.client import FunctionClient, Invocation
from harness.cvat import errors

MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK")
JPEG_MODES = ("L", "RGB", "CMYK")


@dataclass
class Frame:
    data: bytes
    label: str
    width: int
    height: int


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
    fmt = draw(st.sampled_from(("PNG", "JPEG")))
    if fmt == "JPEG" and mode not in JPEG_MODES:
        fmt = "PNG"
    if mode == "CMYK":
        fmt = "JPEG"  # PNG has no CMYK; a CMYK JPEG is what print workflows leave behind
    content = draw(st.sampled_from(("noise", "flat")))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    if content == "noise":
        rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    else:
        rgb = np.full((height, width, 3), rng.integers(0, 256, 3), dtype=np.uint8)
    image = Image.fromarray(rgb, "RGB")
    image = image.convert(mode) if mode != "P" else image.quantize(16)
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return Frame(buffer.getvalue(), f"{width}x{height} {mode} {fmt} {content}", width, height)


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
    first = client.track(**args)
    if first.status != 200 or not isinstance(first.body, dict):
        return first
    states = first.body.get("states")
    if not isinstance(states, list):
        return first
    return client.track(args["image"], None, states)


def acceptable(invocation: Invocation) -> bool:
    """A valid answer, or a clean refusal: 4xx but not 408 (that is a handler timeout)."""
    if invocation.error is not None or invocation.status is None:
        return False
    if invocation.status == 200:
        return not errors(invocation.findings)
    return 400 <= invocation.status < 500 and invocation.status != 408


def check_robustness(target: Target, examples: int) -> None:
    good = target.fixtures[0]
    kind = target.kind
    client = target.client()

    def survives(call: tuple[str, dict[str, Any]]) -> None:
        label, args = call
        invocation = _send(client, kind, args)
        if not acceptable(invocation):
            invocation.sent = label
            raise CheckFailed(
                f"not robust: the function failed on a frame CVAT can send ({label})\n"
                + invocation.describe()
            )
        after = target.play(good)
        if after.status != 200:
            raise CheckFailed(
                f"after the request ({label}) the next good request failed\n" + after.describe()
            )

    falsify(calls(kind), examples, survives)
