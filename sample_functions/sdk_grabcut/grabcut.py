"""A cvat-sdk interaction function: GrabCut seeded by the user's clicks and optional box.

The same model as the Nuclio sample ``grabcut_interactor``, written against
``cvat_sdk.auto_annotation``: ``spec`` says what prompts it takes (at least one positive
point; negative points and a box optional), ``detect`` answers one mask shape.
"""

from __future__ import annotations

import contextlib

import cv2
import cvat_sdk.auto_annotation as cvataa
import numpy as np
import PIL.Image
from cvat_sdk.masks import encode_mask

WORK_SIDE = 128  # GrabCut runs on a window around the clicks shrunk to this many pixels
ITERATIONS = 3
RNG_SEED = 0  # GrabCut's k-means uses OpenCV's global RNG: one request, one answer

spec = cvataa.InteractionFunctionSpec(min_pos_points=1, min_neg_points=0, min_bounding_boxes=0)


def detect(
    context: cvataa.InteractionFunctionContext,
    image: PIL.Image.Image,
    prompts: cvataa.InteractionPrompts,
) -> list[cvataa.InteractionResultShape]:
    rgb = np.asarray(image.convert("RGB"))
    height, width = rgb.shape[:2]
    clip = np.array([width - 1, height - 1], dtype=float)
    pos = np.clip(np.array(prompts.pos_points, dtype=float).reshape(-1, 2), 0, clip)
    neg = np.clip(np.array(prompts.neg_points, dtype=float).reshape(-1, 2), 0, clip)
    box = None
    if prompts.bounding_box is not None:
        corners = np.clip(np.array(prompts.bounding_box, dtype=float), 0, clip)
        box = np.concatenate([corners.min(axis=0), corners.max(axis=0)])
    if box is None and not len(pos):
        return []
    mask = _segment(rgb, pos, neg, box)
    if not mask.any():
        return []
    return [cvataa.InteractionResultShape(type="mask", points=encode_mask(mask.astype(bool)))]


def _segment(rgb: np.ndarray, pos: np.ndarray, neg: np.ndarray, box) -> np.ndarray:
    """A full-frame 0/1 mask of the object the clicks point at."""
    height, width = rgb.shape[:2]
    if box is not None:
        roi = box.copy()
    else:
        spread = pos.max(axis=0) - pos.min(axis=0)
        margin = max(0.12 * min(width, height), 0.5 * float(spread.max()), 8.0)
        roi = np.concatenate([pos.min(axis=0) - margin, pos.max(axis=0) + margin])
    roi = np.clip(roi, 0, [width - 1, height - 1, width - 1, height - 1])
    pad = max(0.25 * float(max(roi[2] - roi[0], roi[3] - roi[1])), 10.0)
    x0, y0 = int(max(roi[0] - pad, 0)), int(max(roi[1] - pad, 0))
    x1, y1 = int(min(roi[2] + pad, width - 1)) + 1, int(min(roi[3] + pad, height - 1)) + 1
    scale = min(1.0, WORK_SIDE / max(x1 - x0, y1 - y0))

    def local(points) -> np.ndarray:
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
    for x, y in local(neg).astype(int):
        cv2.circle(gc, (int(x), int(y)), radius, int(cv2.GC_BGD), -1)
    for x, y in local(pos).astype(int):
        cv2.circle(gc, (int(x), int(y)), radius, int(cv2.GC_FGD), -1)

    seed = np.isin(gc, (cv2.GC_FGD, cv2.GC_PR_FGD))
    if seed.all() or not seed.any() or min(ch, cw) < 4:
        result = seed  # GrabCut needs both sides to learn from
    else:
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        with contextlib.suppress(cv2.error):  # on failure the seeds stay
            cv2.setRNGSeed(RNG_SEED)
            cv2.grabCut(crop, gc, None, bgd, fgd, ITERATIONS, cv2.GC_INIT_WITH_MASK)
        result = np.isin(gc, (cv2.GC_FGD, cv2.GC_PR_FGD))
    result = _keep_clicked(result.astype(np.uint8), local(pos).astype(int))
    full = np.zeros((height, width), np.uint8)
    if scale < 1.0:
        result = cv2.resize(result, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    full[y0:y1, x0:x1] = result
    return full


def _keep_clicked(mask: np.ndarray, pos_local: np.ndarray) -> np.ndarray:
    """Only the pieces a positive click touches (all pieces when there is no click)."""
    if not len(pos_local) or not mask.any():
        return mask
    _, labels = cv2.connectedComponents(mask, connectivity=8)
    h, w = mask.shape
    keep = {int(labels[min(max(y, 0), h - 1), min(max(x, 0), w - 1)]) for x, y in pos_local}
    keep.discard(0)
    if not keep:
        return mask
    return np.isin(labels, list(keep)).astype(np.uint8)
