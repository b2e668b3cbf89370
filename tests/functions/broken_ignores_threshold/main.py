"""Broken on purpose: it never reads the threshold CVAT sends and returns every detection.

Its scores are softer than the sample's (the astronaut's face scores about 0.8, not 0.99),
so a threshold above that must drop the face; this function returns it anyway.

Built on the face detector sample's model; tests/test_suite_catches.py checks that the
suite's threshold check, and only it, fails on this function.
"""

import base64
import io
import json
import sys
from pathlib import Path

from PIL import Image

sys.path.append(str(Path(__file__).resolve().parents[3] / "sample_functions" / "face_detector"))
import model_handler  # noqa: E402
from model_handler import ModelHandler  # noqa: E402

model_handler.WEIGHT_SCALE = 3.0  # a softer logistic: same order of scores, lower values

DEFAULT_THRESHOLD = 0.5


def init_context(context):
    context.user_data.model = ModelHandler()


def parse_threshold(data) -> float:
    try:
        threshold = float(data.get("threshold", DEFAULT_THRESHOLD))
    except (TypeError, ValueError):
        return DEFAULT_THRESHOLD
    if threshold != threshold:  # NaN
        return DEFAULT_THRESHOLD
    return min(max(threshold, 0.0), 1.0)


def handler(context, event):
    data = event.body if isinstance(event.body, dict) else json.loads(event.body)
    image = Image.open(io.BytesIO(base64.b64decode(data["image"])))
    threshold = parse_threshold(data)
    results = context.user_data.model.infer(image, 0.0)  # the defect: threshold unused
    context.logger.info(f"{len(results)} face(s) at threshold {threshold}")
    return context.Response(
        body=json.dumps(results), headers={}, content_type="application/json", status_code=200
    )
