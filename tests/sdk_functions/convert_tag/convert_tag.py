"""Answers one tag with a text and a radio attribute, whatever the frame
(tests/test_sdk_conversion.py)."""

import cvat_sdk.auto_annotation as cvataa

spec = cvataa.DetectionFunctionSpec(
    labels=[
        cvataa.label_spec(
            "indoor",
            0,
            type="tag",
            attributes=[
                cvataa.text_attribute_spec("note", 0),
                cvataa.radio_attribute_spec("light", 1, ["day", "night"]),
            ],
        )
    ]
)


def detect(context, image):
    return [
        cvataa.tag(
            0,
            attributes=[
                {"spec_id": 0, "value": "seen from the door"},
                {"spec_id": 1, "value": "night"},
            ],
        )
    ]
