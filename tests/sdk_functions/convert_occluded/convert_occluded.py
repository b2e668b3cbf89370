"""Answers one polygon that is occluded and on z_order 2, which cvat-sdk uploads as they are
but CVAT's Nuclio path drops (views.py _parse_anno: occluded false, z_order 0): the
conversion keeps both, so the judge names the loss (tests/test_sdk_conversion.py)."""

import cvat_sdk.auto_annotation as cvataa

spec = cvataa.DetectionFunctionSpec(labels=[cvataa.label_spec("roof", 0, type="polygon")])


def detect(context, image):
    return [
        cvataa.polygon(0, [100, 100, 200, 100, 220, 200, 90, 210], occluded=True, z_order=2)
    ]
