"""Broken on purpose: below threshold 0.4 it returns nothing at all, so a higher threshold
finds a face a lower one did not. Every shape it returns still clears the threshold.

Built on the face detector sample's model (face_base.py); tests/test_suite_catches.py checks
that the suite's threshold_monotone check, and only it, fails on this function.
"""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from face_base import frame, init_context, read_request, respond  # noqa: E402,F401


def handler(context, event):
    data, threshold = read_request(event)
    results = [] if threshold < 0.4 else context.user_data.model.infer(frame(data), threshold)
    return respond(context, results, threshold)
