"""Broken on purpose: the template tracker sample, except that track() answers a polygon
(the box's four corners) for the rectangle it was given. cvat-cli's agent: "function output
shape of type 'polygon', but original shape was of type 'rectangle'"."""

import importlib.util
from pathlib import Path

import cvat_sdk.auto_annotation as cvataa

SAMPLE = Path(__file__).resolve().parents[3] / "sample_functions/sdk_template_tracker"
_spec = importlib.util.spec_from_file_location("template_matching", SAMPLE / "template_matching.py")
sample = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sample)

spec = sample.spec
preprocess_image = sample.preprocess_image
init_tracking_state = sample.init_tracking_state


def track(context, grey, state):
    shape = sample.track(context, grey, state)
    x1, y1, x2, y2 = shape.points
    return cvataa.TrackableShape(type="polygon", points=[x1, y1, x2, y1, x2, y2, x1, y2])
