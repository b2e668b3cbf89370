"""Answers one polygon, whatever the frame (tests/test_sdk_conversion.py)."""

import cvat_sdk.auto_annotation as cvataa

spec = cvataa.DetectionFunctionSpec(labels=[cvataa.label_spec("roof", 0, type="polygon")])


def detect(context, image):
    return [cvataa.polygon(0, [100, 100, 200, 100, 220, 200, 90, 210], score=0.8)]
