"""Frontal faces with OpenCV's Haar cascade, scored from the cascade's own stage weights."""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image

# The largest side the cascade sees: beyond it the frame is shrunk, which keeps a
# 4K frame well under a second and loses only faces smaller than ~2% of the frame.
MAX_SIDE = 1024
# levelWeights of the last stage: true faces score ~3..8, the cascade's weak
# candidates -2..3. A logistic curve centred at 3 maps that to (0, 1) monotonically.
WEIGHT_CENTRE = 3.0
WEIGHT_SCALE = 1.0


def weight_to_confidence(weight: float) -> float:
    """Monotone map of a cascade level weight to a confidence in [0, 1]."""
    z = (float(weight) - WEIGHT_CENTRE) / WEIGHT_SCALE
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


class ModelHandler:
    def __init__(self) -> None:
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise RuntimeError(f"cannot load the Haar cascade from {path}")

    def infer(self, image: Image.Image, threshold: float) -> list[dict]:
        rgb = image.convert("RGB")
        width, height = rgb.size
        scale = min(1.0, MAX_SIDE / max(width, height))
        if scale < 1.0:
            rgb = rgb.resize((max(1, round(width * scale)), max(1, round(height * scale))))
        grey = cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2GRAY)
        if min(grey.shape) < 24:  # smaller than the cascade's window: nothing to find
            return []
        grey = cv2.equalizeHist(grey)
        boxes, _levels, weights = self.cascade.detectMultiScale3(
            grey, scaleFactor=1.1, minNeighbors=3, minSize=(24, 24), outputRejectLevels=True
        )
        results = []
        weights = np.ravel(weights)
        for index, (x, y, w, h) in enumerate(boxes):
            confidence = weight_to_confidence(weights[index])
            if confidence < threshold:
                continue
            xtl, ytl = x / scale, y / scale
            xbr, ybr = min((x + w) / scale, width), min((y + h) / scale, height)
            results.append(
                {
                    "confidence": float(confidence),
                    "label": "face",
                    "points": [round(float(v), 1) for v in (xtl, ytl, xbr, ybr)],
                    "type": "rectangle",
                }
            )
        results.sort(key=lambda item: -item["confidence"])
        return results
