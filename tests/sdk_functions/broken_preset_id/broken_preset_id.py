"""Broken on purpose: its shapes carry an id (the server assigns ids).
cvat-sdk: "function output shape with preset id"."""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
import cvat_sdk.auto_annotation as cvataa  # noqa: E402
from sdk_face_base import face_boxes, spec  # noqa: E402,F401


def detect(context, image):
    return [
        cvataa.rectangle(0, box, score=score, id=100 + i)
        for i, (score, box) in enumerate(face_boxes(context, image))
    ]
