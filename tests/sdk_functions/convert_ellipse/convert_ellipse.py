"""Answers one rotated ellipse (centre, then a point on each axis as CVAT stores it),
whatever the frame (tests/test_sdk_conversion.py)."""

import cvat_sdk.auto_annotation as cvataa

spec = cvataa.DetectionFunctionSpec(labels=[cvataa.label_spec("ball", 0, type="ellipse")])


def detect(context, image):
    return [cvataa.shape(0, type="ellipse", points=[256, 256, 306, 226], rotation=15.0)]
