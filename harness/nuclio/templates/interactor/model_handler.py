"""The demo model: GrabCut seeded by CVAT's clicks (and the object's box, if drawn).

GrabCut learns nothing ahead of time, so its settings in weights/grabcut.json stand where your
model's weights go. Replace it with your model: keep ``ModelHandler().infer(...)`` returning
``{"shapes": [...]}``, and load every file through ``weights_file`` so a missing or broken one
is named.
"""

from __future__ import annotations

import contextlib

import cv2
import numpy as np
from PIL import Image

from model_weights import load_settings

SETTINGS = "grabcut.json"


def to_points(value) -> list[tuple[float, float]]:
    """[[x, y], ...] (or a flat [x, y, ...]) as float pairs; junk is dropped."""
    if not isinstance(value, (list, tuple)):
        return []
    if value and all(isinstance(v, (int, float)) for v in value):
        value = [value[i : i + 2] for i in range(0, len(value) - 1, 2)]
    points = []
    for item in value:
        if isinstance(item, (list, tuple)) and len(item) >= 2:
            try:
                x, y = float(item[0]), float(item[1])
            except (TypeError, ValueError):
                continue
            if np.isfinite(x) and np.isfinite(y):
                points.append((x, y))
    return points


def mask_to_rle(mask: np.ndarray) -> list[int]:
    """CVAT's run lengths of a row-major 0/1 bitmap, starting with a run of zeros."""
    flat = mask.astype(np.uint8).ravel()
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        runs.insert(0, 0)
    return [int(r) for r in runs]


def rle_to_mask(rle: list[int], width: int, height: int) -> np.ndarray:
    """Inverse of mask_to_rle, as CVAT's UI decodes it (for tests and debugging)."""
    values = np.arange(len(rle)) % 2
    flat = np.repeat(values, rle).astype(np.uint8)
    return flat[: width * height].reshape(height, width)


class ModelHandler:
    def __init__(self) -> None:
        settings = load_settings(SETTINGS, ("work_side", "iterations", "rng_seed"))
        self.work_side = int(settings["work_side"])
        self.iterations = int(settings["iterations"])
        # GrabCut seeds its colour models from OpenCV's global RNG: a fixed seed makes one
        # request give one answer, whichever worker serves it.
        self.rng_seed = int(settings["rng_seed"])

    def infer(self, image: Image.Image, pos, neg, obj_bbox) -> dict:
        rgb = np.asarray(image.convert("RGB"))
        height, width = rgb.shape[:2]
        clip = np.array([width - 1, height - 1], dtype=float)
        pos_pts = np.clip(np.array(to_points(pos)).reshape(-1, 2), 0, clip)
        neg_pts = np.clip(np.array(to_points(neg)).reshape(-1, 2), 0, clip)
        box_pts = to_points(obj_bbox)
        box = None
        if len(box_pts) >= 2:
            corners = np.clip(np.array(box_pts[:2]), 0, clip)
            box = np.concatenate([corners.min(axis=0), corners.max(axis=0)])
        if box is None and not len(pos_pts):
            return {"shapes": []}

        mask = self.segment(rgb, pos_pts, neg_pts, box)
        ys, xs = np.nonzero(mask)
        if not len(xs):
            return {"shapes": []}
        xtl, ytl, xbr, ybr = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
        rle = mask_to_rle(mask[ytl : ybr + 1, xtl : xbr + 1])
        return {"shapes": [{"type": "mask", "points": rle + [xtl, ytl, xbr, ybr]}]}

    def segment(self, rgb, pos_pts, neg_pts, box) -> np.ndarray:
        """A full-frame 0/1 mask of the object the clicks point at."""
        height, width = rgb.shape[:2]
        if box is not None:
            roi = box.copy()
        else:
            spread = pos_pts.max(axis=0) - pos_pts.min(axis=0)
            margin = max(0.12 * min(width, height), 0.5 * float(spread.max()), 8.0)
            roi = np.concatenate([pos_pts.min(axis=0) - margin, pos_pts.max(axis=0) + margin])
        roi = np.clip(roi, 0, [width - 1, height - 1, width - 1, height - 1])
        pad = max(0.25 * float(max(roi[2] - roi[0], roi[3] - roi[1])), 10.0)
        x0, y0 = int(max(roi[0] - pad, 0)), int(max(roi[1] - pad, 0))
        x1, y1 = int(min(roi[2] + pad, width - 1)) + 1, int(min(roi[3] + pad, height - 1)) + 1
        scale = min(1.0, self.work_side / max(x1 - x0, y1 - y0))

        def local(points):
            return np.round((np.asarray(points, dtype=float).reshape(-1, 2) - [x0, y0]) * scale)

        crop = cv2.cvtColor(rgb[y0:y1, x0:x1], cv2.COLOR_RGB2BGR)
        if scale < 1.0:
            size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
            crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        ch, cw = crop.shape[:2]
        (rx0, ry0), (rx1, ry1) = local([roi[:2], roi[2:]]).astype(int)
        rx1, ry1 = min(rx1, cw - 1), min(ry1, ch - 1)

        gc = np.full((ch, cw), cv2.GC_BGD if box is not None else cv2.GC_PR_BGD, np.uint8)
        gc[ry0 : ry1 + 1, rx0 : rx1 + 1] = cv2.GC_PR_FGD
        if box is None and min(ch, cw) > 8:
            ring = np.ones_like(gc, dtype=bool)
            ring[2:-2, 2:-2] = False
            ring &= gc != cv2.GC_PR_FGD
            gc[ring] = cv2.GC_BGD
        radius = max(2, round(0.01 * max(ch, cw)))
        for x, y in local(neg_pts).astype(int):
            cv2.circle(gc, (int(x), int(y)), radius, int(cv2.GC_BGD), -1)
        for x, y in local(pos_pts).astype(int):
            cv2.circle(gc, (int(x), int(y)), radius, int(cv2.GC_FGD), -1)

        fg_seed = np.isin(gc, (cv2.GC_FGD, cv2.GC_PR_FGD))
        if fg_seed.all() or not fg_seed.any() or min(ch, cw) < 4:
            result = fg_seed  # GrabCut needs both sides to learn from
        else:
            bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
            # On failure the seeds stay: a rough mask beats a failed request.
            with contextlib.suppress(cv2.error):
                cv2.setRNGSeed(self.rng_seed)
                cv2.grabCut(crop, gc, None, bgd, fgd, self.iterations, cv2.GC_INIT_WITH_MASK)
            result = np.isin(gc, (cv2.GC_FGD, cv2.GC_PR_FGD))
        result = self.keep_clicked(result.astype(np.uint8), local(pos_pts).astype(int))

        full = np.zeros((height, width), np.uint8)
        if scale < 1.0:
            result = cv2.resize(result, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
        full[y0:y1, x0:x1] = result
        return full

    @staticmethod
    def keep_clicked(mask: np.ndarray, pos_local: np.ndarray) -> np.ndarray:
        """Only the pieces a positive click touches (all pieces when there is no click)."""
        if not len(pos_local) or not mask.any():
            return mask
        count, labels = cv2.connectedComponents(mask, connectivity=8)
        h, w = mask.shape
        keep = {int(labels[min(max(y, 0), h - 1), min(max(x, 0), w - 1)]) for x, y in pos_local} - {
            0
        }
        if not keep:
            return mask
        return np.isin(labels, list(keep)).astype(np.uint8)
