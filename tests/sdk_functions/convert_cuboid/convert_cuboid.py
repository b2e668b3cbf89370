"""Answers one cuboid (eight corners), whatever the frame (tests/test_sdk_conversion.py)."""

import cvat_sdk.auto_annotation as cvataa

spec = cvataa.DetectionFunctionSpec(labels=[cvataa.label_spec("crate", 0, type="cuboid")])

CORNERS = [100, 100, 100, 200, 200, 100, 200, 200, 230, 80, 230, 180, 130, 80, 130, 180]


def detect(context, image):
    return [cvataa.shape(0, type="cuboid", points=CORNERS, score=0.6)]
