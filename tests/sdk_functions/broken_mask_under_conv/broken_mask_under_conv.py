"""Broken on purpose: it adds a mask of each face's box and never looks at
context.conv_mask_to_poly. Without the flag that is fine; with it, cvat-sdk says
"function output mask shape despite conv_mask_to_poly=True"."""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
import cvat_sdk.auto_annotation as cvataa  # noqa: E402
from sdk_face_base import face_boxes, spec  # noqa: E402,F401

import numpy as np  # noqa: E402
from cvat_sdk.masks import encode_mask  # noqa: E402

spec = cvataa.DetectionFunctionSpec(
    labels=[cvataa.label_spec("face", 0, type="rectangle"), cvataa.label_spec("face-mask", 1)]
)


def detect(context, image):
    result = []
    for score, box in face_boxes(context, image):
        result.append(cvataa.rectangle(0, box, score=score))
        bitmap = np.zeros((image.height, image.width), dtype=bool)
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        bitmap[y1:y2, x1:x2] = True
        result.append(cvataa.mask(1, encode_mask(bitmap, [x1, y1, x2, y2]), score=score))
    return result
