"""Answers one mask, a disc encoded with cvat_sdk.masks.encode_mask, on a frame of any size
(tests/test_sdk_conversion.py: CVAT's answer wants the box's bitmap, the SDK gives runs).
With conv_mask_to_poly it answers the disc's outline as a polygon, as the SDK asks."""

import math

import cvat_sdk.auto_annotation as cvataa
import numpy as np
from cvat_sdk.masks import encode_mask

spec = cvataa.DetectionFunctionSpec(labels=[cvataa.label_spec("blob", 0)])


def disc(width, height):
    """A disc of radius 40 around (256, 256), cut to the frame."""
    ys, xs = np.mgrid[0:height, 0:width]
    return (xs - 256) ** 2 + (ys - 256) ** 2 <= 40**2


def detect(context, image):
    bitmap = disc(image.width, image.height)
    if not bitmap.any():
        return []
    if context.conv_mask_to_poly:
        outline = []
        for i in range(16):
            angle = 2 * math.pi * i / 16
            outline += [256 + 40 * math.cos(angle), 256 + 40 * math.sin(angle)]
        return [cvataa.polygon(0, outline, score=0.95)]
    return [cvataa.mask(0, encode_mask(bitmap), score=0.95)]
