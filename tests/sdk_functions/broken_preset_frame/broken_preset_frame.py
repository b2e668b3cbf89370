"""Broken on purpose: its shapes say frame 2 (the SDK wants 0 and sets the real frame
itself). cvat-sdk: "function output shape with unexpected frame number (2)"."""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
import cvat_sdk.auto_annotation as cvataa  # noqa: E402
from sdk_face_base import face_boxes, spec  # noqa: E402,F401

from cvat_sdk import models  # noqa: E402


def detect(context, image):
    return [
        models.LabeledShapeRequest(type="rectangle", label_id=0, frame=2, points=box, score=score)
        for score, box in face_boxes(context, image)
    ]
