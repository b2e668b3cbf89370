"""Broken on purpose: each face gets an age of "34.5". The spec declares ``age`` a number,
and CVAT keeps a number attribute only when ``int(value)`` reads it (``value.isnumeric()``
before 2.35), so the age is dropped silently (the smile, a checkbox sent as "false", is kept).

Built on the face detector sample's model (face_base.py); tests/test_suite_catches.py checks
that the suite's attributes check, and only it, fails on this function.
"""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from face_base import frame, init_context, read_request, respond  # noqa: E402,F401


def handler(context, event):
    data, threshold = read_request(event)
    results = context.user_data.model.infer(frame(data), threshold)
    for shape in results:
        age = 34.5  # a regression model's output, sent as str(float)
        shape["attributes"] = [
            {"name": "age", "value": str(age)},
            {"name": "smile", "value": "false"},
        ]
    return respond(context, results, threshold)
