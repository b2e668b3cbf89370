"""The demo model: re-identification by colour histograms, as CVAT's reid functions match.

A pair is a candidate only when the box centres are at most ``max_distance`` pixels apart (and
the labels agree, when the boxes carry them); candidates are ranked by Bhattacharyya distance
between hue-saturation histograms, a pair further apart than ``threshold`` is no match, and
each box is used at most once. Histograms learn nothing ahead of time, so the settings in
weights/reid.json stand where your model's weights go. Replace it with your model: keep
``ModelHandler().infer(...)``, and load every file through ``weights_file`` so a missing or
broken one is named.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from model_weights import load_settings

SETTINGS = "reid.json"


def box_points(box) -> list[float] | None:
    """[x1, y1, x2, y2] from a CVAT shape dict (``points``) or a bare list."""
    points = box.get("points") if isinstance(box, dict) else box
    if not isinstance(points, (list, tuple)) or len(points) < 4:
        return None
    try:
        xs = [float(v) for v in points[0::2]]
        ys = [float(v) for v in points[1::2]]
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in xs + ys):
        return None
    return [min(xs), min(ys), max(xs), max(ys)]


def box_label(box):
    return box.get("label_id") if isinstance(box, dict) else None


class ModelHandler:
    def __init__(self) -> None:
        settings = load_settings(SETTINGS, ("hist_bins", "hist_ranges"))
        self.hist_bins = [int(v) for v in settings["hist_bins"]]  # hue, saturation
        self.hist_ranges = [float(v) for v in settings["hist_ranges"]]

    def histogram(self, hsv: np.ndarray, box: list[float] | None) -> np.ndarray | None:
        if box is None:
            return None
        height, width = hsv.shape[:2]
        x1, y1 = (
            int(np.clip(math.floor(box[0]), 0, width)),
            int(np.clip(math.floor(box[1]), 0, height)),
        )
        x2, y2 = (
            int(np.clip(math.ceil(box[2]), 0, width)),
            int(np.clip(math.ceil(box[3]), 0, height)),
        )
        crop = hsv[y1:y2, x1:x2]
        if crop.size == 0:
            return None
        hist = cv2.calcHist([crop], [0, 1], None, self.hist_bins, self.hist_ranges)
        return cv2.normalize(hist, hist, 1.0, 0.0, cv2.NORM_L1)

    def distances(self, image0, boxes0, image1, boxes1, max_distance: float) -> np.ndarray:
        """Bhattacharyya distances in [0, 1]; inf where a pair is not a candidate."""
        hsv0 = cv2.cvtColor(np.asarray(image0.convert("RGB")), cv2.COLOR_RGB2HSV)
        hsv1 = cv2.cvtColor(np.asarray(image1.convert("RGB")), cv2.COLOR_RGB2HSV)
        points0 = [box_points(b) for b in boxes0]
        points1 = [box_points(b) for b in boxes1]
        hists0 = [self.histogram(hsv0, p) for p in points0]
        hists1 = [self.histogram(hsv1, p) for p in points1]
        matrix = np.full((len(boxes0), len(boxes1)), np.inf)
        for i, p0 in enumerate(points0):
            for j, p1 in enumerate(points1):
                h0, h1 = hists0[i], hists1[j]
                if h0 is None or h1 is None:
                    continue
                label0, label1 = box_label(boxes0[i]), box_label(boxes1[j])
                if label0 is not None and label1 is not None and label0 != label1:
                    continue
                centre_gap = math.hypot(
                    (p0[0] + p0[2] - p1[0] - p1[2]) / 2, (p0[1] + p0[3] - p1[1] - p1[3]) / 2
                )
                if centre_gap > max_distance:
                    continue
                matrix[i, j] = cv2.compareHist(h0, h1, cv2.HISTCMP_BHATTACHARYYA)
        return matrix

    def infer(self, image0, boxes0, image1, boxes1, threshold: float, max_distance: float):
        matrix = self.distances(image0, boxes0, image1, boxes1, max_distance)
        results = [-1] * len(boxes0)
        used = set()
        # Greedy on the closest pairs first: never two boxes0 on one box1.
        for flat in np.argsort(matrix, axis=None, kind="stable"):
            i, j = np.unravel_index(flat, matrix.shape)
            if not matrix[i, j] <= threshold:
                break
            if results[i] == -1 and j not in used:
                results[i] = int(j)
                used.add(int(j))
        return results
