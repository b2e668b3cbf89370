"""The demo model: single-object tracking by template matching.

Template matching learns nothing ahead of time, so its settings in weights/tracker.json stand
where your model's weights go. CVAT keeps a tracker's state between frames and any worker may
serve the next one, so the state carries the template (a base64 PNG) and the last box.
Replace it with your model: keep ``ModelHandler().infer(image, shape, state)``, and load every
file through ``weights_file`` so a missing or broken one is named.
"""

from __future__ import annotations

import base64

import cv2
import numpy as np
from PIL import Image

from model_weights import load_settings

SETTINGS = "tracker.json"


def box_of(shape) -> tuple[list[float] | None, str]:
    """(box [x1, y1, x2, y2] or None, form) from a bare point list or a shape dict."""
    form = "shape" if isinstance(shape, dict) else "points"
    points = shape.get("points") if isinstance(shape, dict) else shape
    if not isinstance(points, (list, tuple)) or len(points) < 4:
        return None, form
    try:
        xs = [float(v) for v in points[0::2]]
        ys = [float(v) for v in points[1::2]]
    except (TypeError, ValueError):
        return None, form
    if not all(np.isfinite(xs + ys)):
        return None, form
    return [min(xs), min(ys), max(xs), max(ys)], form


def as_shape(box: list[float], form: str):
    points = [round(float(v), 2) for v in box]
    return {"type": "rectangle", "points": points} if form == "shape" else points


def encode_png(grey: np.ndarray) -> str:
    ok, data = cv2.imencode(".png", grey)
    if not ok:
        raise ValueError("cannot encode the template")
    return base64.b64encode(data.tobytes()).decode("ascii")


def decode_png(text: str) -> np.ndarray:
    data = np.frombuffer(base64.b64decode(text), np.uint8)
    grey = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise ValueError("the state's template is not a PNG")
    return grey


class ModelHandler:
    def __init__(self) -> None:
        settings = load_settings(SETTINGS, ("template_side", "search_margin", "min_score"))
        self.template_side = int(settings["template_side"])  # templates at most this big
        self.search_margin = float(settings["search_margin"])  # in box sizes per frame
        self.min_score = float(settings["min_score"])  # below it the object is lost

    def infer(self, image: Image.Image, shape, state) -> tuple[object, dict | None]:
        grey = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2GRAY)
        if isinstance(state, dict) and state.get("box"):
            return self.track(grey, state)
        box, form = box_of(shape)
        if box is None:
            return shape, None
        return as_shape(box, form), self.init(grey, box, form)

    def init(self, grey: np.ndarray, box: list[float], form: str) -> dict:
        height, width = grey.shape
        x1, y1 = (
            int(np.clip(np.floor(box[0]), 0, width - 1)),
            int(np.clip(np.floor(box[1]), 0, height - 1)),
        )
        x2, y2 = (
            int(np.clip(np.ceil(box[2]), x1 + 1, width)),
            int(np.clip(np.ceil(box[3]), y1 + 1, height)),
        )
        patch = grey[y1:y2, x1:x2]
        scale = min(1.0, self.template_side / max(patch.shape))
        if scale < 1.0:
            size = (max(1, round(patch.shape[1] * scale)), max(1, round(patch.shape[0] * scale)))
            patch = cv2.resize(patch, size, interpolation=cv2.INTER_AREA)
        return {
            "box": [float(v) for v in box],
            "offset": [box[0] - x1, box[1] - y1],
            "scale": scale,
            "template": encode_png(patch),
            "form": form,
        }

    def track(self, grey: np.ndarray, state: dict) -> tuple[object, dict]:
        form = state.get("form", "points")
        box = [float(v) for v in state["box"]]
        scale = float(state.get("scale", 1.0))
        template = decode_png(state["template"])
        th, tw = template.shape
        height, width = grey.shape
        bw, bh = box[2] - box[0], box[3] - box[1]
        margin = self.search_margin * max(bw, bh) + 8
        sx1, sy1 = int(max(box[0] - margin, 0)), int(max(box[1] - margin, 0))
        sx2, sy2 = int(min(box[2] + margin, width)), int(min(box[3] + margin, height))
        window = grey[sy1:sy2, sx1:sx2]
        if scale < 1.0 and window.size:
            size = (max(1, round(window.shape[1] * scale)), max(1, round(window.shape[0] * scale)))
            window = cv2.resize(window, size, interpolation=cv2.INTER_AREA)
        if window.shape[0] < th or window.shape[1] < tw or template.std() < 1e-3:
            return as_shape(box, form), state  # nothing to match against: hold still
        scores = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
        _, best, _, (bx, by) = cv2.minMaxLoc(scores)
        if not np.isfinite(best) or best < self.min_score:
            return as_shape(box, form), state
        ox, oy = state.get("offset", [0.0, 0.0])
        nx1, ny1 = sx1 + bx / scale + ox, sy1 + by / scale + oy
        new_box = [nx1, ny1, nx1 + bw, ny1 + bh]
        return as_shape(new_box, form), {**state, "box": new_box}
