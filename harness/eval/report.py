"""eval.html: one self-contained page (images as data URIs, no script) for people to read:
the verdict and metrics, per-label precision/recall curves at IoU 0.5, the worst images with
ground truth and answer side by side, and the latency histogram."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from harness.cvat.shapes import Shape
from harness.eval.metrics import Evaluation, Scored
from harness.output.draw import RGB, draw_shapes, font, label_color, png_bytes
from harness.output.plot import latency_histogram

WORST_IMAGES = 6
MAX_SIDE = 560
AXIS: RGB = (60, 60, 60)
GRID: RGB = (228, 228, 228)
STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#1f2328;max-width:1200px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d7de;padding:4px 8px;
text-align:left}th{background:#f6f8fa}.passed{color:#1a7f37}.failed{color:#cf222e}
img{max-width:100%;height:auto;border:1px solid #eaeef2;border-radius:4px}
.pair{margin:12px 0}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _uri(img: Image.Image) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(img)).decode("ascii")


def _jpeg_uri(img: Image.Image) -> str:
    """Photos as JPEG: a dozen drawn pairs as PNG would make the page megabytes long."""
    buffer = io.BytesIO()
    img.convert("RGB").save(buffer, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _num(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def pr_curves(curves: dict[str, list[tuple[float, float]]], ap50: dict[str, Any]) -> Image.Image:
    """Precision against recall at IoU 0.5, one line per label (COCOeval's 101 recall points)."""
    width, height, left, right, top, bottom = 640, 400, 56, 170, 36, 46
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    text, small = font(13), font(11)
    x0, x1, y0, y1 = left, width - right, top, height - bottom
    draw.text((x0, 10), "precision / recall at IoU 0.5", fill=AXIS, font=text)
    for i in range(6):
        v = i / 5
        x, y = x0 + v * (x1 - x0), y1 - v * (y1 - y0)
        draw.line([(x0, y), (x1, y)], fill=GRID)
        draw.line([(x, y0), (x, y1)], fill=GRID)
        draw.text((x - 8, y1 + 6), f"{v:.1f}", fill=AXIS, font=small)
        draw.text((x0 - 30, y - 7), f"{v:.1f}", fill=AXIS, font=small)
    draw.rectangle((x0, y0, x1, y1), outline=AXIS)
    draw.text(((x0 + x1) / 2 - 20, height - 20), "recall", fill=AXIS, font=small)
    draw.text((4, y0 - 20), "precision", fill=AXIS, font=small)
    for row, (label, points) in enumerate(curves.items()):
        color = label_color(label)
        xy = [(x0 + r * (x1 - x0), y1 - p * (y1 - y0)) for r, p in points]
        if len(xy) > 1:
            draw.line(xy, fill=color, width=2)
        elif xy:
            draw.ellipse((xy[0][0] - 3, xy[0][1] - 3, xy[0][0] + 3, xy[0][1] + 3), fill=color)
        ly = y0 + 4 + row * 18
        draw.line([(x1 + 12, ly + 7), (x1 + 32, ly + 7)], fill=color, width=3)
        draw.text((x1 + 38, ly), f"{label} AP50 {_num(ap50.get(label))}", fill=AXIS, font=small)
    if not curves:
        draw.text((x0 + 12, y0 + 12), "no label to score", fill=AXIS, font=text)
    return img


def _fit(img: Image.Image) -> Image.Image:
    scale = min(1.0, MAX_SIDE / max(img.size))
    if scale < 1.0:
        img = img.resize((round(img.width * scale), round(img.height * scale)))
    return img


def side_by_side(item: Scored, errors: int, error_text: str | None) -> Image.Image:
    """Ground truth on the left, the function's answer on the right."""
    truth = [
        Shape(t.label, "rectangle", [t.bbox[0], t.bbox[1], t.bbox[0] + t.bbox[2],
              t.bbox[1] + t.bbox[3]])
        for t in item.image.truth
    ]  # fmt: skip
    left = draw_shapes(item.image.path, [], truth, title=f"{item.image.name}: ground truth")
    title = f"answer: {len(item.shapes)} shape(s), {errors} error(s) at IoU 0.5"
    if error_text:
        title = f"failed: {error_text[:80]}"
    right = draw_shapes(item.image.path, item.shapes, title=title)
    left, right = _fit(left), _fit(right)
    both = Image.new("RGB", (left.width + right.width + 8, max(left.height, right.height)), "white")
    both.paste(left, (0, 0))
    both.paste(right, (left.width + 8, 0))
    return both


def render_html(document: dict[str, Any], evaluation: Evaluation, scored: Sequence[Scored]) -> str:
    metrics = document["metrics"]
    verdict = document["verdict"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>cvat-fn eval: {_e(document['function']['name'])}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{_e(document['function']['name'])} on {_e(document['dataset']['path'])}</h1>",
        f"<p class='{verdict}'><b>{verdict.upper()}</b></p>",
    ]
    if document["reasons"]:
        parts.append("<ul>" + "".join(f"<li>{_e(r)}</li>" for r in document["reasons"]) + "</ul>")
    rows = [
        ("dataset format", document["dataset"]["format"]),
        ("images", f"{document['images']} ({document['failed_images']} failed,"
                   f" {document['reused']} reused from an earlier run)"),
        ("threshold", document["threshold"] if document["threshold"] is not None
         else "the function's default"),
        ("requests at once (as many more waiting)", document["concurrency"]),
        ("images/s", _num(document["images_per_s"])),
    ]  # fmt: skip
    parts.append("<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows))
    parts.append("</table><h2>Metrics (COCO, boxes)</h2><table><tr><th>label</th>")
    keys = ("ap", "ap50", "ap75", "precision", "recall", "support")
    parts.append("".join(f"<th>{k}</th>" for k in keys) + "</tr>")
    parts.append(
        "<tr><td><b>all</b></td>"
        + "".join(f"<td>{_num(metrics.get('map' if k == 'ap' else k))}</td>" for k in keys[:-1])
        + f"<td>{_num(metrics.get('ground_truth'))}</td></tr>"
    )
    for label, values in metrics.get("per_label", {}).items():
        cells = "".join(f"<td>{_num(values.get(k))}</td>" for k in keys)
        parts.append(f"<tr><td>{_e(label)}</td>{cells}</tr>")
    parts.append("</table>")
    labels = document["labels"]
    if labels["dataset_only"] or labels["function_only"]:
        only = ", ".join(f"{k} ({v})" for k, v in labels["dataset_only"].items()) or "none"
        parts.append(
            f"<p>Not scored: labels only in the dataset: {_e(only)}; only in the function:"
            f" {_e(', '.join(labels['function_only']) or 'none')}.</p>"
        )
    if document["not_scored"]:
        items = "".join(f"<li>{_e(k)}: {v}</li>" for k, v in document["not_scored"].items())
        parts.append(f"<p>Answers left out:</p><ul>{items}</ul>")
    ap50 = {k: v.get("ap50") for k, v in metrics.get("per_label", {}).items()}
    parts.append(
        f"<h2>Precision and recall</h2><img src='{_uri(pr_curves(evaluation.pr_curves, ap50))}'>"
    )
    failures = {f["image"]: f["error"] for f in document["failures"]}
    worst = sorted(
        scored, key=lambda s: (-evaluation.image_errors.get(s.image.name, 0), s.image.name)
    )
    worst = [s for s in worst if evaluation.image_errors.get(s.image.name, 0)][:WORST_IMAGES]
    parts.append(f"<h2>Worst images ({len(worst)})</h2>")
    if not worst:
        parts.append("<p>No image has a missed or false detection at IoU 0.5.</p>")
    for item in worst:
        errors = evaluation.image_errors.get(item.image.name, 0)
        drawn = side_by_side(item, errors, failures.get(item.image.name))
        parts.append(f"<div class='pair'><img src='{_jpeg_uri(drawn)}'></div>")
    latencies = [p["latency_ms"] for p in document["per_image"] if not p["reused"]]
    histogram = latency_histogram(latencies, {}, "latency per image")
    parts.append(f"<h2>Latency</h2><img src='{_uri(histogram)}'>")
    if failures:
        parts.append("<h2>Failed images</h2><table><tr><th>image</th><th>error</th></tr>")
        parts += [f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in failures.items()]
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(
    document: dict[str, Any], evaluation: Evaluation, scored: Sequence[Scored], path: Path
) -> Path:
    path.write_text(render_html(document, evaluation, scored), encoding="utf-8")
    return path
