"""Broken on purpose: it never reads the threshold CVAT sends and returns every detection.

Its scores are softer than the sample's (the astronaut's face scores about 0.8, not 0.99),
so a threshold above that must drop the face; this function returns it anyway.

Built on the face detector sample's model (face_base.py); tests/test_suite_catches.py checks
that the suite's threshold check, and only it, fails on this function.
"""

import math
import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from face_base import frame, init_context, model_handler, read_request, respond  # noqa: E402,F401


def softer_confidence(weight):
    """The sample's logistic, three times wider: same order of scores, lower values."""
    z = max(min((float(weight) - model_handler.WEIGHT_CENTRE) / 3.0, 50.0), -50.0)
    return 1.0 / (1.0 + math.exp(-z))


model_handler.weight_to_confidence = softer_confidence  # infer() looks it up at each call


def handler(context, event):
    data, threshold = read_request(event)
    results = context.user_data.model.infer(frame(data), 0.0)  # the defect: threshold unused
    return respond(context, results, threshold)
