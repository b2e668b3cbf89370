"""A cvat-sdk detection function: frontal faces with OpenCV's Haar cascade.

The same model as the Nuclio sample ``face_detector``, written against
``cvat_sdk.auto_annotation``: ``spec`` declares the labels, ``detect`` returns shapes whose
``score`` is the cascade's last-stage weight mapped to (0, 1).
"""

from __future__ import annotations

import math

import cv2
import cvat_sdk.auto_annotation as cvataa
import numpy as np
import PIL.Image

DEFAULT_THRESHOLD = 0.5
MAX_SIDE = 1024  # larger frames are shrunk first: faces under ~2% of the frame are lost
WEIGHT_CENTRE, WEIGHT_SCALE = 3.0, 1.0  # true faces weigh ~3..8, weak candidates -2..3

spec = cvataa.DetectionFunctionSpec(labels=[cvataa.label_spec("face", 0, type="rectangle")])

_cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")


def _confidence(weight: float) -> float:
    z = (float(weight) - WEIGHT_CENTRE) / WEIGHT_SCALE
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def detect(
    context: cvataa.DetectionFunctionContext, image: PIL.Image.Image
) -> list[cvataa.DetectionAnnotation]:
    threshold = context.conf_threshold
    if threshold is None:
        threshold = DEFAULT_THRESHOLD
    rgb = image.convert("RGB")
    width, height = rgb.size
    scale = min(1.0, MAX_SIDE / max(width, height))
    if scale < 1.0:
        rgb = rgb.resize((max(1, round(width * scale)), max(1, round(height * scale))))
    grey = cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2GRAY)
    if min(grey.shape) < 24:  # smaller than the cascade's window
        return []
    boxes, _levels, weights = _cascade.detectMultiScale3(
        cv2.equalizeHist(grey),
        scaleFactor=1.1,
        minNeighbors=3,
        minSize=(24, 24),
        outputRejectLevels=True,
    )
    found = []
    for (x, y, w, h), weight in zip(boxes, np.ravel(weights)):
        score = _confidence(weight)
        if score < threshold:
            continue
        box = [x / scale, y / scale, min((x + w) / scale, width), min((y + h) / scale, height)]
        found.append((score, [round(float(v), 1) for v in box]))
    found.sort(key=lambda item: -item[0])
    return [cvataa.rectangle(0, box, score=score) for score, box in found]
