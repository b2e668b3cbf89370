"""Broken on purpose: above conf_threshold 0.6 it adds a box it never returns at lower
thresholds, so a higher threshold does not give a subset of a lower one's answer."""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
import cvat_sdk.auto_annotation as cvataa  # noqa: E402
from sdk_face_base import face_boxes, spec  # noqa: E402,F401


def detect(context, image):
    faces = [cvataa.rectangle(0, box, score=score) for score, box in face_boxes(context, image)]
    threshold = context.conf_threshold
    if threshold is not None and threshold > 0.6:
        faces.append(cvataa.rectangle(0, [0, 0, 10, 10], score=1.0))
    return faces
