"""Broken on purpose: it raises on greyscale frames (modes 1, L and LA), which CVAT sends
for greyscale videos and scans. The fixtures are colour, so only robustness sees it."""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
import cvat_sdk.auto_annotation as cvataa  # noqa: E402
from sdk_face_base import face_boxes, spec  # noqa: E402,F401


def detect(context, image):
    if image.mode in ("1", "L", "LA"):
        raise ValueError(f"expected a colour frame, got mode {image.mode}")
    return [cvataa.rectangle(0, box, score=score) for score, box in face_boxes(context, image)]
