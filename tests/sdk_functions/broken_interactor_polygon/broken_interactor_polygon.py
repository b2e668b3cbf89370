"""Broken on purpose: the SDK GrabCut sample, except that it answers the mask's box as a
polygon. The SDK accepts that; CVAT's UI shows only masks, so the user sees nothing:
sdk_interact fails (and CVAT's own answer checks and accuracy see the same defect)."""

import importlib.util
from pathlib import Path

import cvat_sdk.auto_annotation as cvataa

SAMPLE = Path(__file__).resolve().parents[3] / "sample_functions/sdk_grabcut/grabcut.py"
_spec = importlib.util.spec_from_file_location("grabcut_sample", SAMPLE)
sample = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sample)

spec = sample.spec


def detect(context, image, prompts):
    shapes = sample.detect(context, image, prompts)
    result = []
    for shape in shapes:
        x1, y1, x2, y2 = shape.points[-4:]
        result.append(
            cvataa.InteractionResultShape(type="polygon", points=[x1, y1, x2, y1, x2, y2, x1, y2])
        )
    return result
