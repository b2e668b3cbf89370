"""A 5x5 mask around the first positive point, in the image it is sent. Its text prompts pick
the form: none, ``{"shapes": [mask]}`` (run lengths + box); ``legacy``, ``{"mask": rows}`` of
the image's size; ``wrong-size``, a 10x10 ``{"mask"}`` whatever the image (with a region of
interest CVAT fails on it). Each request is recorded (../roi_record.py)."""

import base64
import io
import json
import sys
from pathlib import Path

from PIL import Image

sys.path.append(str(Path(__file__).resolve().parents[1]))
from roi_record import record  # noqa: E402


def init_context(context):
    pass


def handler(context, event):
    data = event.body if isinstance(event.body, dict) else json.loads(event.body)
    record(data)
    with Image.open(io.BytesIO(base64.b64decode(data["image"]))) as image:
        width, height = image.size
    x, y = (int(round(v)) for v in data["pos_points"][0])
    xtl, ytl = min(max(x - 2, 0), width - 5), min(max(y - 2, 0), height - 5)
    prompts = data.get("text_prompts") or []
    if "wrong-size" in prompts:
        answer = {"mask": [[1] * 10 for _ in range(10)]}
    elif "legacy" in prompts:
        rows = [[0] * width for _ in range(height)]
        for row in rows[ytl : ytl + 5]:
            row[xtl : xtl + 5] = [1] * 5
        answer = {"mask": rows}
    else:
        answer = {"shapes": [{"type": "mask", "points": [0, 25, xtl, ytl, xtl + 4, ytl + 4]}]}
    return context.Response(
        body=json.dumps(answer), content_type="application/json", status_code=200
    )
