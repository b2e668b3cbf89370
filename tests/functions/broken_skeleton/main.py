"""Broken on purpose: beside each face box it answers a "landmarks" skeleton whose elements
are left-eye, right-eye and "mouth", but the spec's skeleton has no "mouth" sublabel. CVAT
keeps only the elements it can map to a sublabel, so the mouth is dropped silently.

Built on the face detector sample's model (face_base.py); tests/test_suite_catches.py checks
that the suite's skeleton check, and only it, fails on this function.
"""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from face_base import frame, init_context, read_request, respond  # noqa: E402,F401


def point(label, x, y):
    return {"label": label, "type": "points", "points": [round(x, 1), round(y, 1)], "outside": 0}


def handler(context, event):
    data, threshold = read_request(event)
    faces = context.user_data.model.infer(frame(data), threshold)
    results = list(faces)
    for face in faces:
        xtl, ytl, xbr, ybr = face["points"]
        w, h = xbr - xtl, ybr - ytl
        results.append(
            {
                "label": "landmarks",
                "type": "skeleton",
                "confidence": face["confidence"],
                "elements": [
                    point("left-eye", xtl + 0.3 * w, ytl + 0.4 * h),
                    point("right-eye", xtl + 0.7 * w, ytl + 0.4 * h),
                    point("mouth", xtl + 0.5 * w, ytl + 0.75 * h),
                ],
            }
        )
    return respond(context, results, threshold)
