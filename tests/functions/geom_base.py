"""The face detector and GrabCut samples' models behind the pre- and post-processing real
models have (a fixed-size input, a letterbox, several scales, a crop around the prompt), each
with one classic geometric bug or none, for tests/test_geometry.py.

Every bug keeps its shapes inside the frame on the function's own photos (one square, one
wide, one tall), so only the geometry check can tell. A function's main.py puts this directory
on sys.path and picks its defect with ``detector_handler`` or ``interactor_handler``.
"""

import base64
import io
import json
import sys
from pathlib import Path

from PIL import Image

SAMPLES = Path(__file__).resolve().parents[2] / "sample_functions"


def _sample_model(name):
    """The ``model_handler`` module of ``sample_functions/<name>`` (each sample has its own
    model_weights beside it, which reads that sample's weights/)."""
    sys.path.insert(0, str(SAMPLES / name))
    import model_handler

    return model_handler


INPUT = 320
"""The side of the fixed-size model input."""


def _nms(boxes, overlap=0.5):
    """The most confident of boxes overlapping each other by ``overlap`` IoU or more."""
    kept = []
    for box in sorted(boxes, key=lambda b: -b[4]):
        if all(_iou(box, k) < overlap for k in kept):
            kept.append(box)
    return kept


def _iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union if union > 0 else 0.0


def faces(model, image, threshold):
    """(x1, y1, x2, y2, confidence) of the faces on ``image``, in its own pixels."""
    return [(*r["points"], r["confidence"]) for r in model.infer(image, threshold)]


def detect(context, image, threshold):
    """Boxes in the frame's coordinates as the function's defect leaves them."""
    defect = context.user_data.defect
    rgb = image.convert("RGB")
    w, h = rgb.size
    if defect in ("not-scaled-back", "wrong-axis-ratios", "scale-once", "ok-fixed-input"):
        if defect == "scale-once":
            # the defect: the ratios of the first frame served, kept for every frame after
            if context.user_data.ratios is None:
                context.user_data.ratios = (INPUT / w, INPUT / h)
            rx, ry = context.user_data.ratios
        else:
            rx, ry = INPUT / w, INPUT / h
        found = faces(context.user_data.model, rgb.resize((INPUT, INPUT)), threshold)
        if defect == "not-scaled-back":
            return found  # the defect: the model input's coordinates
        if defect == "wrong-axis-ratios":
            rx, ry = ry, rx  # the defect: width's ratio on y, height's on x
        return [(x1 / rx, y1 / ry, x2 / rx, y2 / ry, c) for x1, y1, x2, y2, c in found]
    if defect in ("letterbox-kept", "ok-letterbox"):
        r = INPUT / max(w, h)
        nw, nh = round(w * r), round(h * r)
        px, py = (INPUT - nw) // 2, (INPUT - nh) // 2
        canvas = Image.new("RGB", (INPUT, INPUT), (114, 114, 114))
        canvas.paste(rgb.resize((nw, nh)), (px, py))
        found = faces(context.user_data.model, canvas, threshold)
        if defect == "letterbox-kept":
            px = py = 0  # the defect: the padding never taken off
        out = []
        for x1, y1, x2, y2, c in found:
            x1, x2 = (min(max((v - px) / r, 0), w) for v in (x1, x2))
            y1, y2 = (min(max((v - py) / r, 0), h) for v in (y1, y2))
            out.append((x1, y1, x2, y2, c))
        return out
    if defect == "half-size":
        small = rgb.resize((max(1, w // 2), max(1, h // 2)))
        return faces(context.user_data.model, small, threshold)  # the defect: not doubled
    if defect == "xy-swapped":
        found = faces(context.user_data.model, rgb, threshold)
        return [(y1, x1, y2, x2, c) for x1, y1, x2, y2, c in found]  # the defect
    if defect == "ok-multiscale":
        found = []
        for scale in (1.0, 0.75):
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            for x1, y1, x2, y2, c in faces(context.user_data.model, rgb.resize(size), threshold):
                sx, sy = w / size[0], h / size[1]
                found.append((x1 * sx, y1 * sy, x2 * sx, y2 * sy, c))
        return _nms(found)
    raise ValueError(f"unknown defect {defect!r}")


def detector_handler(defect):
    def init_context(context):
        context.user_data.model = _sample_model("face_detector").ModelHandler()
        context.user_data.defect = defect
        context.user_data.ratios = None

    def handler(context, event):
        data = event.body if isinstance(event.body, dict) else json.loads(event.body)
        threshold = float(data.get("threshold") or 0.5)
        image = Image.open(io.BytesIO(base64.b64decode(data["image"])))
        results = [
            {
                "confidence": c,
                "label": "face",
                "points": [round(float(v), 1) for v in (x1, y1, x2, y2)],
                "type": "rectangle",
            }
            for x1, y1, x2, y2, c in detect(context, image, threshold)
        ]
        context.logger.info(f"{len(results)} face(s) at threshold {threshold}")
        return context.Response(
            body=json.dumps(results), headers={}, content_type="application/json", status_code=200
        )

    return init_context, handler


# -- interactors ------------------------------------------------------------------------------

AROUND = 80
"""How far around its clicks the cropping interactor looks, in pixels."""


def interact(context, image, pos, neg, obj_bbox):
    """The answer as the function's defect leaves it: ``{"shapes": [a mask]}``."""
    model, defect = context.user_data.model, context.user_data.defect
    if defect == "ignores-crop-offset":
        # it looks only around the clicks, and forgets to add that crop's corner back
        w, h = image.size
        xs, ys = [p[0] for p in pos], [p[1] for p in pos]
        x0, y0 = int(max(min(xs) - AROUND, 0)), int(max(min(ys) - AROUND, 0))
        x1, y1 = int(min(max(xs) + AROUND, w)), int(min(max(ys) + AROUND, h))
        local = [[x - x0, y - y0] for x, y in pos]
        local_neg = [[x - x0, y - y0] for x, y in neg if x0 <= x < x1 and y0 <= y < y1]
        return model.infer(image.crop((x0, y0, x1, y1)), local, local_neg, None)
    answer = model.infer(image, pos, neg, obj_bbox)
    for shape in answer["shapes"]:
        *rle, xtl, ytl, xbr, ybr = shape["points"]
        if defect == "mask-shifted":
            # the defect: the box's right edge taken for its left
            width = xbr - xtl + 1
            shape["points"] = [*rle, xtl + width, ytl, xbr + width, ybr]
        elif defect == "xy-swapped":
            mask = context.user_data.module.rle_to_mask(rle, xbr - xtl + 1, ybr - ytl + 1)
            turned = context.user_data.module.mask_to_rle(mask.T)  # the defect
            shape["points"] = [*turned, ytl, xtl, ybr, xbr]
        elif defect != "ok":
            raise ValueError(f"unknown defect {defect!r}")
    return answer


def interactor_handler(defect):
    def init_context(context):
        module = _sample_model("grabcut_interactor")
        context.user_data.module = module
        context.user_data.model = module.ModelHandler()
        context.user_data.defect = defect

    def handler(context, event):
        data = event.body if isinstance(event.body, dict) else json.loads(event.body)
        image = Image.open(io.BytesIO(base64.b64decode(data["image"]))).convert("RGB")
        pos, neg = data.get("pos_points") or [], data.get("neg_points") or []
        answer = interact(context, image, pos, neg, data.get("obj_bbox"))
        context.logger.info(f"{len(answer['shapes'])} mask(s)")
        return context.Response(
            body=json.dumps(answer), headers={}, content_type="application/json", status_code=200
        )

    return init_context, handler
