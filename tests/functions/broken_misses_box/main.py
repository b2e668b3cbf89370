"""Broken on purpose: it halves the frame for speed and forgets to scale the boxes back,
so every face lands up and to the left of where it is. The boxes are still valid
rectangles inside the image; only accuracy can tell.

Built on the face detector sample's model (face_base.py); tests/test_suite_catches.py checks
that the suite's accuracy check, and only it, fails on this function.
"""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from face_base import frame, init_context, read_request, respond  # noqa: E402,F401


def handler(context, event):
    data, threshold = read_request(event)
    image = frame(data)
    small = image.resize((max(1, image.width // 2), max(1, image.height // 2)))
    results = context.user_data.model.infer(small, threshold)  # the defect: boxes not doubled
    return respond(context, results, threshold)
