"""Nuclio entry point of the face detector: CVAT's detector request in, shapes out."""

import base64
import io
import json

from model_handler import ModelHandler
from PIL import Image

DEFAULT_THRESHOLD = 0.5


def init_context(context):
    context.logger.info("Init context...  0%")
    context.user_data.model = ModelHandler()
    context.logger.info("Init context...100%")


def parse_threshold(value) -> float:
    """CVAT sends ``threshold`` only when it is truthy; anything unusable means the default."""
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        return DEFAULT_THRESHOLD
    if threshold != threshold:  # NaN
        return DEFAULT_THRESHOLD
    return min(max(threshold, 0.0), 1.0)


def handler(context, event):
    context.logger.info("Run Haar cascade face detector")
    data = event.body
    if isinstance(data, (bytes, str)):
        data = json.loads(data)
    image = Image.open(io.BytesIO(base64.b64decode(data["image"])))
    threshold = parse_threshold(data.get("threshold", DEFAULT_THRESHOLD))
    results = context.user_data.model.infer(image, threshold)
    context.logger.info(f"{len(results)} face(s) at threshold {threshold}")
    return context.Response(
        body=json.dumps(results),
        headers={},
        content_type="application/json",
        status_code=200,
    )
