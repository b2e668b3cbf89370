"""Detectors whose shapes have no area, for tests/test_shape_similarity.py: a single point, a
horizontal polyline, a skeleton whose keypoints lie on a line, a tag. Where they are follows
from the frame's size, so two frames of different sizes get different answers.

``SHAPE_DEFECT`` in the function's environment (Nuclio passes the environment on) switches on
one defect, so the same function shows each way its answers can differ:

- ``moves-at-high-threshold``: at threshold 0.5 or more the shape moves down by 0.4 of
  the frame (a tag changes label): a higher threshold no longer gives a subset;
- ``shared-scratch``: every worker writes the frame to one scratch file and reads it back, so
  two requests at once can swap frames (and answers);
- ``wrong``: the shape is always moved (a tag always has the other label).

A main.py puts this directory on sys.path and picks its kind with ``handler_for``.
"""

import base64
import io
import json
import os
import random
import tempfile
import time
from pathlib import Path

from PIL import Image

CONFIDENCE = 0.99
TAGS = ("square", "wide", "tall")


def init_context(context):
    context.user_data.defect = os.environ.get("SHAPE_DEFECT", "")


def _tag(width, height, moved):
    name = "square" if width == height else ("wide" if width > height else "tall")
    return TAGS[(TAGS.index(name) + 1) % len(TAGS)] if moved else name


def shapes(kind, width, height, moved):
    """The answer of a ``kind`` detector on a width x height frame."""
    y = height * (0.9 if moved else 0.5)
    common = {"confidence": CONFIDENCE}
    if kind == "points":
        return [dict(common, label="nose", type="points", points=[width * 0.25, y])]
    if kind == "polyline":
        xs = (0.2, 0.5, 0.8)
        line = [c for x in xs for c in (width * x, y)]
        return [dict(common, label="horizon", type="polyline", points=line)]
    if kind == "skeleton":
        elements = [
            {"label": name, "type": "points", "points": [width * x, y]}
            for name, x in (("left", 0.3), ("middle", 0.5), ("right", 0.7))
        ]
        return [dict(common, label="body", type="skeleton", elements=elements)]
    if kind == "tag":
        return [dict(common, label=_tag(width, height, moved), type="tag")]
    raise ValueError(f"unknown kind {kind}")


def _frame(context, data):
    raw = base64.b64decode(data["image"])
    if context.user_data.defect == "shared-scratch":
        scratch = Path(tempfile.gettempdir()) / f"cvat-fn-shape-scratch-{os.getppid()}.img"
        scratch.write_bytes(raw)
        time.sleep(0.1)  # time for another worker to overwrite the file
        raw = scratch.read_bytes()
        scratch.unlink(missing_ok=True)
    return Image.open(io.BytesIO(raw))


def handler_for(*kinds, shuffle=False):
    """A CVAT detector handler answering one shape of each of ``kinds`` (in a new random
    order every time with ``shuffle``)."""

    def handler(context, event):
        data = event.body if isinstance(event.body, dict) else json.loads(event.body)
        try:
            threshold = float(data.get("threshold", 0.5))
        except (TypeError, ValueError):
            threshold = 0.5
        width, height = _frame(context, data).size
        defect = context.user_data.defect
        moved = defect == "wrong" or (defect == "moves-at-high-threshold" and threshold >= 0.5)
        results = []
        if CONFIDENCE >= threshold:
            results = [s for kind in kinds for s in shapes(kind, width, height, moved)]
        if shuffle:
            random.shuffle(results)
        context.logger.info(f"{len(results)} shape(s) at threshold {threshold}")
        return context.Response(
            body=json.dumps(results), headers={}, content_type="application/json", status_code=200
        )

    return handler
