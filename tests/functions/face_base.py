"""The face detector sample's model and CVAT request handling, shared by the broken_*
functions so that each of them shows only its one defect.

A broken function's main.py puts this directory on sys.path and imports from here.
"""

import base64
import io
import json
import sys
from pathlib import Path

from PIL import Image

sys.path.append(str(Path(__file__).resolve().parents[2] / "sample_functions" / "face_detector"))
import model_handler  # noqa: E402,F401  (re-exported for functions that tune it)
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


def read_request(event):
    """(request body as a dict, threshold) of a CVAT detector request."""
    data = event.body if isinstance(event.body, dict) else json.loads(event.body)
    return data, parse_threshold(data)


def decode_image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def frame(data) -> Image.Image:
    return decode_image(base64.b64decode(data["image"]))


def respond(context, results, threshold):
    context.logger.info(f"{len(results)} face(s) at threshold {threshold}")
    return context.Response(
        body=json.dumps(results), headers={}, content_type="application/json", status_code=200
    )
