"""The SDK face detector sample's model, shared by the broken cvat-sdk functions here so
that each one's module shows only its defect (tests/test_sdk_catches.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[2] / "sample_functions/sdk_face_detector/haar_faces.py"
_spec = importlib.util.spec_from_file_location("haar_faces_sample", SAMPLE)
assert _spec is not None and _spec.loader is not None
haar = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(haar)

spec = haar.spec
detect = haar.detect


def face_boxes(context, image) -> list[tuple[float, list[float]]]:
    """(score, box) of each face the sample finds at the context's threshold."""
    return [(shape.score, list(shape.points)) for shape in haar.detect(context, image)]
