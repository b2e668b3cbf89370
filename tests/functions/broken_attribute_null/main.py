"""Broken on purpose: each face gets an age of null, a value CVAT cannot read for a number
attribute. views.py ``check_attr_value`` calls ``int(None)``, whose TypeError is not the
ValueError it catches, so the interactive call answers 500 and the auto-annotation job fails.

Built on the face detector sample's model (face_base.py); tests/test_suite_catches.py checks
that the suite's attributes check, and only it, fails on this function, and
tests/test_one_judge.py that cvat-fn invoke fails on it too.
"""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from face_base import frame, init_context, read_request, respond  # noqa: E402,F401


def handler(context, event):
    data, threshold = read_request(event)
    results = context.user_data.model.infer(frame(data), threshold)
    for shape in results:
        shape["attributes"] = [
            {"name": "age", "value": None},  # the model had no estimate
            {"name": "smile", "value": "false"},
        ]
    return respond(context, results, threshold)
