"""Broken on purpose: rectangles as three corners (6 numbers); CVAT wants [xtl, ytl, xbr, ybr].

Built on the face detector sample's model (face_base.py); tests/test_suite_catches.py checks
that the suite's schema check, and only it, fails on this function.
"""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from face_base import frame, init_context, read_request, respond  # noqa: E402,F401


def handler(context, event):
    data, threshold = read_request(event)
    results = context.user_data.model.infer(frame(data), threshold)
    for shape in results:
        xtl, ytl, xbr, ybr = shape["points"]
        shape["points"] = [xtl, ytl, xbr, ytl, xbr, ybr]  # top-left, top-right, bottom-right
    return respond(context, results, threshold)
