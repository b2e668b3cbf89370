"""Broken on purpose: its skeleton declares two keypoints but each answer has only the
left eye. cvat-sdk: "function output skeleton with fewer elements than expected (1 vs 2)"."""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
import cvat_sdk.auto_annotation as cvataa  # noqa: E402
from sdk_face_base import face_boxes, spec  # noqa: E402,F401


spec = cvataa.DetectionFunctionSpec(
    labels=[
        cvataa.label_spec("face", 0, type="rectangle"),
        cvataa.skeleton_label_spec(
            "eyes", 1, [cvataa.keypoint_spec("left", 0), cvataa.keypoint_spec("right", 1)]
        ),
    ]
)


def detect(context, image):
    result = []
    for score, (x1, y1, x2, y2) in face_boxes(context, image):
        result.append(cvataa.rectangle(0, [x1, y1, x2, y2], score=score))
        left = [x1 + (x2 - x1) * 0.3, y1 + (y2 - y1) * 0.4]
        result.append(cvataa.skeleton(1, [cvataa.keypoint(0, left)], score=score))
    return result
