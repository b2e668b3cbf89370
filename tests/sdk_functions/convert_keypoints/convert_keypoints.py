"""Answers one skeleton (cvataa.skeleton with cvataa.keypoint elements): an attribute on the
skeleton, one keypoint outside, one with an attribute of its own, whatever the frame
(tests/test_sdk_conversion.py; cvat-fn export-nuclio once failed every such request)."""

import cvat_sdk.auto_annotation as cvataa

spec = cvataa.DetectionFunctionSpec(
    labels=[
        cvataa.skeleton_label_spec(
            "body",
            0,
            [
                cvataa.keypoint_spec("head", 0),
                cvataa.keypoint_spec("left_hand", 1),
                cvataa.keypoint_spec(
                    "right_hand", 2, attributes=[cvataa.checkbox_attribute_spec("raised", 0)]
                ),
            ],
            attributes=[cvataa.select_attribute_spec("pose", 0, ["standing", "sitting"])],
        )
    ]
)


def detect(context, image):
    return [
        cvataa.skeleton(
            0,
            [
                cvataa.keypoint(0, [256, 100]),
                cvataa.keypoint(1, [200, 200], outside=True),
                cvataa.keypoint(
                    2, [312, 180], attributes=[{"spec_id": 0, "value": "true"}]
                ),
            ],
            attributes=[{"spec_id": 0, "value": "sitting"}],
            score=0.85,
        )
    ]
