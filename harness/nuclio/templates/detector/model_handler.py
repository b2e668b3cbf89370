"""The demo model: frontal faces with an OpenCV Haar cascade, loaded from weights/.

Replace it with your model: keep ``ModelHandler().infer(image, threshold)`` returning CVAT's
shapes, and load every file through ``weights_file`` so a missing or broken one is named.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from model_weights import WeightsError, weights_file

CASCADE = "haarcascade_frontalface_default.xml"
LABEL = "face"
# The largest side the cascade sees: bigger frames are shrunk first.
MAX_SIDE = 1024
# The cascade's last-stage weight of a true face is ~3..8: a logistic curve centred at 3
# maps it to a confidence in (0, 1).
WEIGHT_CENTRE = 3.0


def load_cascade(path: Path) -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier()
    try:
        loaded = cascade.load(str(path))
    except cv2.error as exc:  # a truncated or corrupt XML file
        reason = str(exc).strip().split(" error: ", 1)[-1]
        raise WeightsError(f"weights file {path} is unreadable: {reason}") from None
    if not loaded or cascade.empty():
        raise WeightsError(f"weights file {path} is unreadable: not a complete Haar cascade")
    return cascade


def weight_to_confidence(weight: float) -> float:
    z = max(min(float(weight) - WEIGHT_CENTRE, 50.0), -50.0)
    return 1.0 / (1.0 + math.exp(-z))


class ModelHandler:
    def __init__(self) -> None:
        self.cascade = load_cascade(weights_file(CASCADE))

    def infer(self, image: Image.Image, threshold: float) -> list[dict]:
        rgb = image.convert("RGB")
        width, height = rgb.size
        scale = min(1.0, MAX_SIDE / max(width, height))
        if scale < 1.0:
            rgb = rgb.resize((max(1, round(width * scale)), max(1, round(height * scale))))
        grey = cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2GRAY)
        if min(grey.shape) < 24:  # smaller than the cascade's window
            return []
        grey = cv2.equalizeHist(grey)
        boxes, _levels, weights = self.cascade.detectMultiScale3(
            grey, scaleFactor=1.1, minNeighbors=3, minSize=(24, 24), outputRejectLevels=True
        )
        results = []
        for (x, y, w, h), weight in zip(boxes, np.ravel(weights), strict=True):
            confidence = weight_to_confidence(weight)
            if confidence < threshold:
                continue
            box = (x / scale, y / scale, min((x + w) / scale, width), min((y + h) / scale, height))
            results.append(
                {
                    "confidence": confidence,
                    "label": LABEL,
                    "points": [round(float(v), 1) for v in box],
                    "type": "rectangle",
                }
            )
        results.sort(key=lambda item: -item["confidence"])
        return results
