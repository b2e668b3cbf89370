"""Answers one points shape of three points, whatever the frame (tests/test_sdk_conversion.py)."""

import cvat_sdk.auto_annotation as cvataa

spec = cvataa.DetectionFunctionSpec(labels=[cvataa.label_spec("star", 0, type="points")])


def detect(context, image):
    return [cvataa.shape(0, type="points", points=[40, 40, 60, 50, 80, 45], score=0.7)]
