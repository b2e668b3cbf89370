"""Broken on purpose: its skeleton's second keypoint names sublabel id 9, which the spec does
not declare, so CVAT's answer cannot name it. cvat-sdk: "function output shape with unknown
sublabel ID (9)"; the request fails, in the export and under cvat-fn
(tests/test_sdk_conversion.py)."""

import cvat_sdk.auto_annotation as cvataa

spec = cvataa.DetectionFunctionSpec(
    labels=[
        cvataa.skeleton_label_spec(
            "body", 0, [cvataa.keypoint_spec("head", 0), cvataa.keypoint_spec("foot", 1)]
        )
    ]
)


def detect(context, image):
    return [cvataa.skeleton(0, [cvataa.keypoint(0, [256, 100]), cvataa.keypoint(9, [256, 400])])]
