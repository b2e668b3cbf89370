"""Broken on purpose: its faces are labelled "person", a name its spec does not declare
(CVAT drops such shapes silently).

Built on the face detector sample's model (face_base.py); tests/test_suite_catches.py checks
that the suite's labels check, and only it, fails on this function.
"""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from face_base import frame, init_context, read_request, respond  # noqa: E402,F401


def handler(context, event):
    data, threshold = read_request(event)
    results = context.user_data.model.infer(frame(data), threshold)
    for shape in results:
        shape["label"] = "person"
    return respond(context, results, threshold)
