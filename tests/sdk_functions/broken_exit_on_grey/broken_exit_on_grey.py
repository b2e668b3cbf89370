"""Broken on purpose: its process exits (os._exit) on greyscale frames, as a native library
aborting would. The worker process dies and is replaced; only robustness sees it."""

import os
import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
import cvat_sdk.auto_annotation as cvataa  # noqa: E402
from sdk_face_base import face_boxes, spec  # noqa: E402,F401


def detect(context, image):
    if image.mode in ("1", "L", "LA"):
        os._exit(3)
    return [cvataa.rectangle(0, box, score=score) for score, box in face_boxes(context, image)]
