"""Masks the red region of a frame, as a segmentation model's output is often cut: the region
is found with a lenient test (its box: every pixel at least a little red), and the mask keeps
the pixels inside that box that pass a strict one. A frame whose reddest pixels are only a
little red gets the box and an all-zero bitmap: CVAT stores that as an empty mask.

Redness is how far red exceeds the larger of green and blue, 0..1; the confidence is the
fraction of the box's pixels in the mask, raised so that a box found at all scores at least
0.3, and shapes below the request's threshold are left out."""

import base64
import io
import json

import numpy as np
from PIL import Image

LENIENT = 0.2  # redness of the region's box
STRICT = 0.4  # redness of the mask's pixels


def init_context(context):
    pass


def region(rgb):
    """The answer's shape for an RGB array, or None when nothing is even a little red."""
    channels = rgb.astype(np.int16)
    redness = (channels[..., 0] - np.maximum(channels[..., 1], channels[..., 2])) / 255.0
    rows, cols = np.nonzero(redness > LENIENT)
    if rows.size == 0:
        return None
    ytl, ybr, xtl, xbr = int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())
    inside = redness[ytl : ybr + 1, xtl : xbr + 1] > STRICT
    confidence = 0.3 + 0.7 * float(inside.mean())
    bitmap = [int(v) for v in inside.ravel()]
    return {
        "label": "red",
        "type": "mask",
        "mask": [*bitmap, xtl, ytl, xbr, ybr],
        "confidence": round(confidence, 3),
    }


def handler(context, event):
    data = event.body if isinstance(event.body, dict) else json.loads(event.body)
    threshold = float(data.get("threshold") or 0.0)
    image = Image.open(io.BytesIO(base64.b64decode(data["image"]))).convert("RGB")
    shape = region(np.asarray(image))
    shapes = [shape] if shape is not None and shape["confidence"] >= threshold else []
    context.logger.info(f"{len(shapes)} region(s) at threshold {threshold}")
    return context.Response(
        body=json.dumps(shapes), headers={}, content_type="application/json", status_code=200
    )
