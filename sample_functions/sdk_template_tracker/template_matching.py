"""A cvat-sdk tracking function: one rectangle followed by template matching (OpenCV).

The same model as the Nuclio sample ``template_tracker``, written against
``cvat_sdk.auto_annotation``: ``init_tracking_state`` keeps the box's patch, ``track`` finds it
again near the last box and moves the box there (the state is updated in place).
"""

from __future__ import annotations

import cv2
import cvat_sdk.auto_annotation as cvataa
import numpy as np
import PIL.Image

TEMPLATE_SIDE = 64  # templates are shrunk to at most this many pixels a side
SEARCH_MARGIN = 1.0  # how far (in box sizes) the object may move between two frames
MIN_SCORE = 0.2  # below this normalised correlation the object is lost and the box stays

spec = cvataa.TrackingFunctionSpec(supported_shape_types=["rectangle"])


class State:
    """What track() needs: the last box, the template and how it was cut and scaled.
    (A plain class: cvat-cli executes the file without a sys.modules entry, which
    dataclasses under ``from __future__ import annotations`` cannot work with.)"""

    def __init__(self, box: list[float], offset: tuple[float, float], scale: float, template):
        self.box, self.offset, self.scale, self.template = box, offset, scale, template


def preprocess_image(
    context: cvataa.TrackingFunctionContext, image: PIL.Image.Image
) -> np.ndarray:
    return cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2GRAY)


def init_tracking_state(
    context: cvataa.TrackingFunctionShapeContext, grey: np.ndarray, shape: cvataa.TrackableShape
) -> State:
    box = [float(v) for v in shape.points[:4]]
    height, width = grey.shape
    x1 = int(np.clip(np.floor(box[0]), 0, width - 1))
    y1 = int(np.clip(np.floor(box[1]), 0, height - 1))
    x2 = int(np.clip(np.ceil(box[2]), x1 + 1, width))
    y2 = int(np.clip(np.ceil(box[3]), y1 + 1, height))
    patch = grey[y1:y2, x1:x2]
    scale = min(1.0, TEMPLATE_SIDE / max(patch.shape))
    if scale < 1.0:
        size = (max(1, round(patch.shape[1] * scale)), max(1, round(patch.shape[0] * scale)))
        patch = cv2.resize(patch, size, interpolation=cv2.INTER_AREA)
    return State(box=box, offset=(box[0] - x1, box[1] - y1), scale=scale, template=patch)


def track(
    context: cvataa.TrackingFunctionShapeContext, grey: np.ndarray, state: State
) -> cvataa.TrackableShape | None:
    box, scale, template = state.box, state.scale, state.template
    th, tw = template.shape
    height, width = grey.shape
    bw, bh = box[2] - box[0], box[3] - box[1]
    margin = SEARCH_MARGIN * max(bw, bh) + 8
    sx1, sy1 = int(max(box[0] - margin, 0)), int(max(box[1] - margin, 0))
    sx2, sy2 = int(min(box[2] + margin, width)), int(min(box[3] + margin, height))
    window = grey[sy1:sy2, sx1:sx2]
    if scale < 1.0 and window.size:
        size = (max(1, round(window.shape[1] * scale)), max(1, round(window.shape[0] * scale)))
        window = cv2.resize(window, size, interpolation=cv2.INTER_AREA)
    if window.shape[0] >= th and window.shape[1] >= tw and template.std() >= 1e-3:
        scores = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
        _, best, _, (bx, by) = cv2.minMaxLoc(scores)
        if np.isfinite(best) and best >= MIN_SCORE:
            nx1, ny1 = sx1 + bx / scale + state.offset[0], sy1 + by / scale + state.offset[1]
            state.box = [nx1, ny1, nx1 + bw, ny1 + bh]
    return cvataa.TrackableShape(
        type=context.original_shape_type, points=[round(v, 2) for v in state.box]
    )
