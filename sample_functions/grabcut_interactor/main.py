"""Nuclio entry point of the GrabCut interactor: CVAT's clicks in, one mask out."""

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
    context.logger.info("Run GrabCut interactor")
    data = event.body
    if isinstance(data, (bytes, str)):
        data = json.loads(data)
    image = Image.open(io.BytesIO(base64.b64decode(data["image"])))
    pos_points = data.get("pos_points") or []
    neg_points = data.get("neg_points") or []
    obj_bbox = data.get("obj_bbox")
    context.logger.info(
        f"{len(pos_points)} positive, {len(neg_points)} negative point(s),"
        f" box {'given' if obj_bbox else 'none'}"
    )
    result = context.user_data.model.infer(image, pos_points, neg_points, obj_bbox)
    return context.Response(
        body=json.dumps(result),
        headers={},
        content_type="application/json",
        status_code=200,
    )
