"""Answers one rectangle with a value for each attribute input type (number, checkbox,
radio, select, text), whatever the frame (tests/test_sdk_conversion.py)."""

import cvat_sdk.auto_annotation as cvataa
from cvat_sdk.attributes import number_attribute_values

spec = cvataa.DetectionFunctionSpec(
    labels=[
        cvataa.label_spec(
            "car",
            0,
            type="rectangle",
            attributes=[
                cvataa.number_attribute_spec("doors", 0, number_attribute_values(2, 5)),
                cvataa.checkbox_attribute_spec("parked", 1),
                cvataa.radio_attribute_spec("colour", 2, ["red", "blue"]),
                cvataa.select_attribute_spec("make", 3, ["saab", "volvo"]),
                cvataa.text_attribute_spec("plate", 4),
            ],
        )
    ]
)


def detect(context, image):
    values = {0: "4", 1: "true", 2: "blue", 3: "volvo", 4: "AB 123"}
    return [
        cvataa.rectangle(
            0,
            [300, 300, 420, 380],
            attributes=[{"spec_id": k, "value": v} for k, v in values.items()],
        )
    ]
