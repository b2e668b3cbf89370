"""Nuclio entry point of the template tracker: CVAT's shapes/states in, moved shapes out."""

import base64
import io
import json

from model_handler import ModelHandler
from PIL import Image


def init_context(context):
    context.logger.info("Init context...  0%")
    context.user_data.model = ModelHandler()
    context.logger.info("Init context...100%")


def handler(context, event):
    context.logger.info("Run template-matching tracker")
    data = event.body
    if isinstance(data, (bytes, str)):
        data = json.loads(data)
    image = Image.open(io.BytesIO(base64.b64decode(data["image"])))
    shapes = data.get("shapes") or []
    states = data.get("states") or []
    # CVAT starts tracking with shapes and no states, and goes on with states and
    # (since 2.3x) shapes that are all null; older UIs send both every frame.
    count = max(len(shapes), len(states))
    results = {"shapes": [], "states": []}
    for i in range(count):
        shape = shapes[i] if i < len(shapes) else None
        state = states[i] if i < len(states) else None
        shape, state = context.user_data.model.infer(image, shape, state)
        results["shapes"].append(shape)
        results["states"].append(state)
    context.logger.info(f"tracked {count} shape(s)")
    return context.Response(
        body=json.dumps(results),
        headers={},
        content_type="application/json",
        status_code=200,
    )
