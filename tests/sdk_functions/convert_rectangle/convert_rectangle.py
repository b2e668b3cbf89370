"""Answers one rotated rectangle with a score and a group, whatever the frame
(tests/test_sdk_conversion.py: every annotation cvat-sdk accepts reaches CVAT's answer)."""

import cvat_sdk.auto_annotation as cvataa

spec = cvataa.DetectionFunctionSpec(labels=[cvataa.label_spec("box", 0, type="rectangle")])


def detect(context, image):
    return [cvataa.rectangle(0, [64, 96, 192, 224], rotation=30.0, score=0.9, group=3)]
