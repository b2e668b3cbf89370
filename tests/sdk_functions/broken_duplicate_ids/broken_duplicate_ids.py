"""Broken on purpose: two labels share id 0. cvat-sdk's DetectionFunctionSpec refuses it
while the module loads: "label person has same ID as another label (0)"."""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
import cvat_sdk.auto_annotation as cvataa  # noqa: E402
from sdk_face_base import face_boxes, spec  # noqa: E402,F401


spec = cvataa.DetectionFunctionSpec(  # noqa: F811
    labels=[cvataa.label_spec("face", 0), cvataa.label_spec("person", 0)]
)


def detect(context, image):
    return []
