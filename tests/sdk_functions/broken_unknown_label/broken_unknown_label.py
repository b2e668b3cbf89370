"""Broken on purpose: besides its faces it tags every frame with label id 7, which its spec
does not declare. cvat-sdk: "function output tag with unknown label ID (7)"; CVAT's Nuclio
answer cannot name the label either, so every request fails with that message too.
"""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
import cvat_sdk.auto_annotation as cvataa  # noqa: E402
from sdk_face_base import face_boxes, spec  # noqa: E402,F401


def detect(context, image):
    faces = [cvataa.rectangle(0, box, score=score) for score, box in face_boxes(context, image)]
    return [*faces, cvataa.tag(7)]
