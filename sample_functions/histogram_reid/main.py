"""Nuclio entry point of the histogram reid: two frames and their boxes in, matches out."""

import base64
import io
import json
import math

from model_handler import ModelHandler
from PIL import Image

# CVAT's own reid functions use the same defaults; CVAT sends both only when truthy.
DEFAULT_THRESHOLD = 0.5
DEFAULT_MAX_DISTANCE = 50.0


def init_context(context):
    context.logger.info("Init context...  0%")
    context.user_data.model = ModelHandler()
    context.logger.info("Init context...100%")


def number(value, default: float) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return default
    return result if math.isfinite(result) and result >= 0 else default


def handler(context, event):
    context.logger.info("Run colour-histogram reid")
    data = event.body
    if isinstance(data, (bytes, str)):
        data = json.loads(data)
    image0 = Image.open(io.BytesIO(base64.b64decode(data["image0"])))
    image1 = Image.open(io.BytesIO(base64.b64decode(data["image1"])))
    boxes0 = data.get("boxes0") or []
    boxes1 = data.get("boxes1") or []
    threshold = number(data.get("threshold"), DEFAULT_THRESHOLD)
    max_distance = number(data.get("max_distance"), DEFAULT_MAX_DISTANCE)
    results = context.user_data.model.infer(image0, boxes0, image1, boxes1, threshold, max_distance)
    matched = sum(1 for r in results if r >= 0)
    context.logger.info(
        f"{matched} of {len(boxes0)} box(es) matched"
        f" (threshold {threshold}, max_distance {max_distance})"
    )
    return context.Response(
        body=json.dumps(results),
        headers={},
        content_type="application/json",
        status_code=200,
    )
