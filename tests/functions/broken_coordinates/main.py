"""Broken on purpose: each face box is widened to the right by 2.6 face widths (to take in
the shoulders) and not clipped to the frame, so on the astronaut its right edge lies past the
512-pixel frame. CVAT stores such points as sent; the suite's coordinates check fails on them.

Built on the face detector sample's model (face_base.py); tests/test_suite_catches.py checks
that the suite's coordinates check, and only it, fails on this function.
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
        shape["points"] = [xtl, ytl, xbr + 2.6 * (xbr - xtl), ybr]  # no min(..., width)
    return respond(context, results, threshold)
