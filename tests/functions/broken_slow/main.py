"""Broken on purpose: it sleeps a quarter of a second on every request, as a model reloaded
per request would; the warm latency budget (p50 200 ms, below the sleep alone) catches it.

Built on the face detector sample's model; tests/test_suite_catches.py checks that the
suite's latency[warm] check, and only it, fails on this function.
"""

import base64
import io
import json
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.append(str(Path(__file__).resolve().parents[3] / "sample_functions" / "face_detector"))
from model_handler import ModelHandler  # noqa: E402

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
    time.sleep(0.25)
    results = context.user_data.model.infer(image, threshold)
    context.logger.info(f"{len(results)} face(s) at threshold {threshold}")
    return context.Response(
        body=json.dumps(results), headers={}, content_type="application/json", status_code=200
    )
