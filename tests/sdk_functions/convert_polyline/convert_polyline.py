"""Answers one polyline (cvataa.shape with type="polyline"), whatever the frame
(tests/test_sdk_conversion.py)."""

import cvat_sdk.auto_annotation as cvataa

spec = cvataa.DetectionFunctionSpec(labels=[cvataa.label_spec("horizon", 0, type="polyline")])


def detect(context, image):
    return [cvataa.shape(0, type="polyline", points=[50, 400, 150, 380, 300, 420])]
