"""COCO metrics as the field reports them, computed by pycocotools (never by hand).

Ground truth and answers are turned into COCO dicts and handed to ``COCOeval``: mAP@[.5:.95],
AP50 and AP75 are its ``stats``; per-label AP is read from its accumulated precision table
the way its own ``summarize`` averages it; precision and recall at IoU 0.5 (at the threshold
the function was called with) count its own matches (``evalImgs``: ``dtMatches``,
``dtIgnore``, ``gtIgnore``). Boxes are scored always ("bbox"); polygons and masks also as
"segm" when both sides have them.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.cvat.shapes import Shape
from harness.eval.dataset import DatasetImage
from harness.eval.rle import encode_mask, polygon_rle

IOU_50 = 0  # index of IoU 0.5 in COCOeval's iouThrs
AREA_ALL = 0
MAX_DETS = -1  # COCOeval's largest maxDets (100)


@dataclass
class Scored:
    """One image as COCOeval sees it: ids are assigned in the order images are added."""

    image: DatasetImage
    shapes: list[Shape]
    failed: bool = False


@dataclass
class LabelMap:
    """Labels by name: those on both sides are scored, the others listed."""

    matched: list[str]
    dataset_only: list[str]
    function_only: list[str]

    @classmethod
    def between(cls, dataset: Sequence[str], function: Sequence[str]) -> LabelMap:
        return cls(
            matched=[name for name in dataset if name in function],
            dataset_only=[name for name in dataset if name not in function],
            function_only=[name for name in function if name not in dataset],
        )


@dataclass
class Evaluation:
    """What COCOeval found, in the units eval.json reports."""

    metrics: dict[str, Any]
    pr_curves: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    image_errors: dict[str, int] = field(default_factory=dict)
    """Per image name: false positives + false negatives at IoU 0.5."""
    not_scored: dict[str, int] = field(default_factory=dict)
    """Answers left out, by reason (a label the dataset lacks, a shape type without a box)."""


def _prediction(shape: Shape, size: tuple[int, int]) -> tuple[list[float], Any] | None:
    """(COCO bbox, segmentation or None) of an answered shape; None if it has no area."""
    width, height = size
    if shape.type == "rectangle" and len(shape.points) >= 4:
        xtl, ytl, xbr, ybr = shape.points[:4]
        return [xtl, ytl, xbr - xtl, ybr - ytl], None
    if shape.type == "polygon" and len(shape.points) >= 6:
        xtl, ytl, xbr, ybr = shape.bbox()
        return [xtl, ytl, xbr - xtl, ybr - ytl], polygon_rle(shape.points, (height, width))
    if shape.type == "mask":
        rows = shape.mask()
        if not rows:
            return None
        xtl, ytl = (int(v) for v in shape.bbox()[:2])
        full = np.zeros((height, width), dtype=np.uint8)
        part = np.asarray(rows, dtype=np.uint8)[: max(0, height - ytl), : max(0, width - xtl)]
        full[ytl : ytl + part.shape[0], xtl : xtl + part.shape[1]] = part
        return [xtl, ytl, len(rows[0]), len(rows)], encode_mask(full, (height, width))
    if shape.type == "ellipse":
        xtl, ytl, xbr, ybr = shape.bbox()
        return [xtl, ytl, xbr - xtl, ybr - ytl], None
    return None


def coco_dicts(
    scored: Sequence[Scored], labels: LabelMap
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], dict]:
    """(ground truth, bbox detections, segm ground truth anns, segm detections, not scored)."""
    category = {name: number for number, name in enumerate(labels.matched, start=1)}
    gt: dict[str, Any] = {
        "images": [],
        "annotations": [],
        "categories": [{"id": i, "name": n} for n, i in category.items()],
    }
    boxes: list[dict[str, Any]] = []
    segm_gt: list[dict[str, Any]] = []
    segm_dt: list[dict[str, Any]] = []
    not_scored: dict[str, int] = {}
    for image_id, item in enumerate(scored, start=1):
        image = item.image
        gt["images"].append(
            {"id": image_id, "width": image.width, "height": image.height, "file_name": image.name}
        )
        for truth in image.truth:
            if truth.label not in category:
                continue
            x, y, w, h = truth.bbox
            ann = {
                "id": len(gt["annotations"]) + 1,
                "image_id": image_id,
                "category_id": category[truth.label],
                "bbox": [x, y, w, h],
                "area": w * h,
                "iscrowd": int(truth.crowd),
            }
            gt["annotations"].append(ann)
            if truth.segmentation is not None:
                segm_gt.append({**ann, "segmentation": truth.segmentation})
        for shape in item.shapes:
            if shape.label not in category:
                reason = f"label {shape.label!r} not in the dataset"
                not_scored[reason] = not_scored.get(reason, 0) + 1
                continue
            found = _prediction(shape, (image.width, image.height))
            if found is None:
                reason = f"{shape.type} (no box to score)"
                not_scored[reason] = not_scored.get(reason, 0) + 1
                continue
            bbox, segmentation = found
            score = 1.0 if shape.confidence is None else float(shape.confidence)
            det = {"image_id": image_id, "category_id": category[shape.label], "score": score}
            boxes.append({**det, "bbox": [float(v) for v in bbox]})
            if segmentation is not None:
                segm_dt.append({**det, "segmentation": segmentation})
    return gt, boxes, segm_gt, segm_dt, not_scored


def _run_cocoeval(gt_dict: dict[str, Any], detections: list[dict[str, Any]], iou_type: str) -> Any:
    """A COCOeval after evaluate() and accumulate(), its console output swallowed."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt_dict
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(detections) if detections else COCO()
        if not detections:
            coco_dt.dataset = {"images": gt_dict["images"], "annotations": [],
                               "categories": gt_dict["categories"]}  # fmt: skip
            coco_dt.createIndex()
        evaluator = COCOeval(coco_gt, coco_dt, iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def _mean(values: np.ndarray) -> float | None:
    kept = values[values > -1]
    return float(np.mean(kept)) if kept.size else None


def _counts(evaluator: Any, category_index: int | None) -> tuple[int, int, int]:
    """(true positives, detections, ground truths) at IoU 0.5 over all areas."""
    params = evaluator.params
    n_images, n_areas = len(params.imgIds), len(params.areaRng)
    tp = dets = gts = 0
    categories = range(len(params.catIds)) if category_index is None else [category_index]
    for k in categories:
        for i in range(n_images):
            e = evaluator.evalImgs[k * n_areas * n_images + AREA_ALL * n_images + i]
            if e is None:
                continue
            keep = ~np.asarray(e["dtIgnore"], dtype=bool)[IOU_50] if len(e["dtIds"]) else []
            matched = np.asarray(e["dtMatches"])[IOU_50] > 0 if len(e["dtIds"]) else []
            tp += int(np.sum(np.logical_and(matched, keep)))
            dets += int(np.sum(keep))
            gts += int(np.sum(np.asarray(e["gtIgnore"]) == 0))
    return tp, dets, gts


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def _summary(evaluator: Any) -> dict[str, Any]:
    stats = evaluator.stats
    tp, dets, gts = _counts(evaluator, None)
    return {
        "map": float(stats[0]) if stats[0] > -1 else None,
        "ap50": float(stats[1]) if stats[1] > -1 else None,
        "ap75": float(stats[2]) if stats[2] > -1 else None,
        "precision": _ratio(tp, dets),
        "recall": _ratio(tp, gts),
        "true_positives": tp,
        "detections": dets,
        "ground_truth": gts,
    }


def evaluate(scored: Sequence[Scored], labels: LabelMap) -> Evaluation:
    """COCO metrics of ``scored`` over the labels both sides know."""
    gt, boxes, segm_gt, segm_dt, not_scored = coco_dicts(scored, labels)
    if not labels.matched:
        empty = {"map": None, "ap50": None, "ap75": None, "precision": None, "recall": None}
        return Evaluation({**empty, "per_label": {}}, not_scored=not_scored)
    evaluator = _run_cocoeval(gt, boxes, "bbox")
    metrics = _summary(evaluator)
    precision = evaluator.eval["precision"]  # [iou, recall, category, area, maxDets]
    rec_thrs = evaluator.params.recThrs
    per_label: dict[str, Any] = {}
    curves: dict[str, list[tuple[float, float]]] = {}
    for k, name in enumerate(labels.matched):
        tp, dets, gts = _counts(evaluator, k)
        per_label[name] = {
            "ap": _mean(precision[:, :, k, AREA_ALL, MAX_DETS]),
            "ap50": _mean(precision[IOU_50, :, k, AREA_ALL, MAX_DETS]),
            "ap75": _mean(precision[5, :, k, AREA_ALL, MAX_DETS]),
            "precision": _ratio(tp, dets),
            "recall": _ratio(tp, gts),
            "support": gts,
            "detections": dets,
        }
        curve = precision[IOU_50, :, k, AREA_ALL, MAX_DETS]
        curves[name] = [
            (float(r), float(p)) for r, p in zip(rec_thrs, curve, strict=True) if p > -1
        ]
    metrics["per_label"] = per_label
    if segm_gt and segm_dt:
        segm = {**gt, "annotations": segm_gt}
        metrics["segm"] = _summary(_run_cocoeval(segm, segm_dt, "segm"))
    return Evaluation(metrics, curves, _image_errors(evaluator, scored), not_scored)


def _image_errors(evaluator: Any, scored: Sequence[Scored]) -> dict[str, int]:
    params = evaluator.params
    n_images, n_areas = len(params.imgIds), len(params.areaRng)
    errors: dict[str, int] = {}
    for i, item in enumerate(scored):
        count = 0
        for k in range(len(params.catIds)):
            e = evaluator.evalImgs[k * n_areas * n_images + AREA_ALL * n_images + i]
            if e is None:
                continue
            if len(e["dtIds"]):
                keep = ~np.asarray(e["dtIgnore"], dtype=bool)[IOU_50]
                count += int(np.sum(np.logical_and(np.asarray(e["dtMatches"])[IOU_50] == 0, keep)))
            if len(e["gtIds"]):
                unmatched = np.asarray(e["gtMatches"])[IOU_50] == 0
                count += int(np.sum(np.logical_and(unmatched, np.asarray(e["gtIgnore"]) == 0)))
        errors[item.image.name] = count + (1 if item.failed else 0)
    return errors


def label_counts(images: Iterable[DatasetImage]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for image in images:
        for truth in image.truth:
            counts[truth.label] = counts.get(truth.label, 0) + 1
    return counts
