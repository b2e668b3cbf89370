"""Geometry without ground truth: the same frame flipped, at another scale, or cut to a region
of interest as CVAT cuts it must give the same shapes, moved the same way (relations.py).

Real models are only nearly equivariant (they resample, and find a small object at one scale
and not at another), so a view fails only on a systematic disagreement: the transform the
answers actually underwent is found among the ones that explain whole classes of bugs (kept
coordinates, exchanged axes, a mirror about another centre, shapes at another scale, letterbox
padding, ratios on the wrong axes), it matches most shapes of both answers closely, and the
expected transform matches fewer. Anything else is inconclusive, never a guess."""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from PIL import Image

from harness.cvat.client import FunctionClient, Invocation
from harness.cvat.shapes import Shape
from harness.suite.checks import CheckFailed, NotApplicable
from harness.suite.checks.target import Target
from harness.suite.config import Fixture
from harness.suite.relations import (
    Affine,
    View,
    as_point_set,
    flip_view,
    map_shape,
    move_prompt,
    regions,
    roi_view,
    scale_view,
)
from harness.suite.scenario import same_answer
from harness.suite.similarity import match, where

MINIMUM = 0.5
"""Two shapes are the same object at this IoU / OKS or more (the suite's default minimums)."""
CLOSE = 0.75
"""An alternative transform explains an answer only if its shapes match at least this well on
average: looser agreement is what a nearly-equivariant model shows anyway."""
MAX_SHAPES = 6
"""Transforms are derived from the pairs among this many shapes of each answer at most."""


@dataclass
class Candidate:
    transform: Affine
    pattern: str
    named: bool
    """Predicted from the frames' geometry alone (one sentence per class of bug), rather than
    fitted to one pair of shapes: a single shape suffices as evidence."""


@dataclass
class Verdict:
    view: View
    answer: Invocation
    outcome: str  # "agrees", "disagrees", "inconclusive"
    reason: str = ""
    fitted: Affine | None = None
    mapped: list[Shape] = field(default_factory=list)
    """The frame's answer moved by the expected transform: where the view's shapes belong."""


def geometry_key(fixture: Fixture) -> tuple[str, str]:
    return ("geometry", fixture.name)


def positional(shapes: Sequence[Shape]) -> list[Shape]:
    """Shapes that have a place (not tags), and a box."""
    return [s for s in shapes if s.type != "tag" and s.box_or_none() is not None]


def frame_bytes(fixture: Fixture) -> tuple[bytes, tuple[int, int]]:
    data = fixture.image.read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        return data, img.size


def plan_views(
    fixture: Fixture, kind: str, answer: Invocation, relations: Sequence[str]
) -> list[View]:
    """The requests for one fixture (at most 4): flipped, scaled, and two regions around what
    the frame's answer found (and an interactor's prompt)."""
    data, size = frame_bytes(fixture)
    views: list[View] = []
    if "flip" in relations:
        views.append(flip_view(data, size))
    if "scale" in relations:
        views.append(scale_view(data, size))
    if "roi" in relations:
        found = [s.bbox() for s in positional(answer.shapes)]
        prompt = [tuple(p) for p in (*fixture.pos_points, *(fixture.obj_bbox or []))]
        boxes = found + [(p[0], p[1], p[0], p[1]) for p in prompt]
        around = _union(boxes, size) if boxes else None
        for roi in regions(size, around):
            views.append(roi_view(data, size, roi))
    if kind == "interactor":
        views = [
            move_prompt(v, fixture.pos_points, fixture.neg_points, fixture.obj_bbox) for v in views
        ]
    return views


def _union(
    boxes: Sequence[tuple[float, float, float, float]], size: tuple[int, int]
) -> tuple[float, float, float, float]:
    """The box around ``boxes``; when that covers most of the frame, the largest box alone
    (the regions must be smaller than the frame to tell an offset)."""
    u = (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    if u[2] - u[0] > 0.6 * size[0] or u[3] - u[1] > 0.6 * size[1]:
        return max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    return u


def send_view(target: Target, fixture: Fixture, view: View, client: FunctionClient) -> Invocation:
    name = fixture.image.name
    if target.kind == "interactor":
        inv = client.interact(view.image, view.pos_points, view.neg_points, view.obj_bbox)
        prompt = f", pos {view.pos_points}, neg {view.neg_points}"
        if view.obj_bbox:
            prompt += f", box {view.obj_bbox}"
    else:
        inv = client.detect(view.image, fixture.threshold)
        prompt = f", threshold {fixture.threshold}"
    inv.sent = f"{name} {view.name} ({view.size[0]}x{view.size[1]}){prompt}"
    return inv


# -- the transforms that explain an answer ----------------------------------------------------


def _centre(box: tuple[float, float, float, float]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def named_candidates(view: View) -> list[Candidate]:
    """Transforms predicted from the frames' sizes alone, each with the class of bug it means."""
    e = view.expected
    w, h = view.frame_size
    vw, vh = view.size
    out = [Candidate(Affine(), _kept_words(view), True)]
    swapped = Affine(e.ay, e.by, e.ax, e.bx) if view.relation != "flip" else Affine(1, 0, -1, w)
    out.append(Candidate(swapped, f"x and y exchanged ({_exchanged_words(view)})", True))
    if view.relation == "flip":
        upside = "mirrored top to bottom instead of left to right"
        out.append(Candidate(Affine(1, 0, -1, h), upside, True))
        out.append(Candidate(Affine(-1, w, -1, h), "mirrored on both axes", True))
        px = (max(w, h) - w) / 2
        if px:
            padded = f"the offset of every shape holds the letterbox padding ({px:g} px on x)"
            out.append(Candidate(Affine(-1, w + 2 * px, 1, 0), padded, True))
    if view.relation == "roi":
        fx, fy = _pad(w, h)
        cx, cy = _pad(vw, vh)
        px, py = cx - fx, cy - fy
        padded = (
            f"the offset of every shape equals the letterbox padding: ({px:g}, {py:g}) px more"
            f" in the {vw}x{vh} region than in the {w}x{h} frame"
        )
        out.append(Candidate(Affine(1, e.bx + px, 1, e.by + py), padded, True))
        ax, ay = (w / h) * (vh / vw), (h / w) * (vw / vh)
        out.append(
            Candidate(
                Affine(ax, e.bx * vh / vw, ay, e.by * vw / vh),
                "the resize ratios are applied on the wrong axes: x scaled by the"
                f" region's height over its width ({vh}/{vw}), y the other way",
                True,
            )
        )
    return out


def _pad(w: int, h: int) -> tuple[float, float]:
    """Where a letterbox to a square puts a w x h frame, in the frame's pixels."""
    side = max(w, h)
    return (side - w) / 2, (side - h) / 2


def _kept_words(view: View) -> str:
    if view.relation == "scale":
        factor = view.expected.ax
        return (
            f"the shapes do not follow the frame's size: at {factor:g}x they come back at 1x"
            " (coordinates of the model's input, or a scale fixed once, not the frame's)"
        )
    if view.relation == "flip":
        return (
            "not mirrored: on the flipped frame the shapes come back where they were on the"
            " frame itself (mirrored twice, or never)"
        )
    x0, y0 = -view.expected.bx, -view.expected.by
    return (
        f"the shapes do not move with the region: every offset equals the region's corner"
        f" ({x0:g}, {y0:g}), so CVAT, which adds the corner, stores them that far off"
    )


def _exchanged_words(view: View) -> str:
    if view.relation == "flip":
        return "the left-right flip moved the shapes top to bottom"
    if view.relation == "roi":
        return "the region's corner moved x by its y and y by its x"
    return "the frame's width scaled y and its height x"


def family_candidates(view: View, base: Shape, got: Shape) -> list[Candidate]:
    """One-parameter classes of bug, their parameter read from one pair of shapes: a mirror
    about another centre, shapes at k times the frame's scale, coordinates of a model's input
    of side S never scaled back to the region."""
    b, g = base.box_or_none(), got.box_or_none()
    if b is None or g is None:
        return []
    (bx, _), (gx, _) = _centre(b), _centre(g)
    w, h = view.frame_size
    vw, vh = view.size
    out = []
    if view.relation == "flip" and w > 0:
        k = (gx + bx) / w
        if k > 0 and abs(k - 1) > 0.02:
            out.append(
                Candidate(
                    Affine(-1, k * w, 1, 0),
                    f"mirrored about x = {k * w / 2:.4g} instead of the frame's centre {w / 2:g}:"
                    f" the shapes are at {k:.3g}x the frame's scale (left at the scale the model"
                    " ran at, or a box shifted by its own size)",
                    True,
                )
            )
    if view.relation == "roi":
        x0, y0 = -view.expected.bx, -view.expected.by
        if x0 > 0:
            k = (bx - gx) / x0
            if k > 0 and abs(k - 1) > 0.02:
                out.append(
                    Candidate(
                        Affine(1, -k * x0, 1, -k * y0),
                        f"every offset is {k:.3g} of the region's corner: the shapes are at"
                        f" {k:.3g}x the frame's scale (left at the scale the model ran at)",
                        True,
                    )
                )
            ax, ay = w / vw, h / vh
            side = (ax * bx - gx) * vw / x0
            if side > 0 and abs(ax - 1) > 0.02:
                out.append(
                    Candidate(
                        Affine(ax, -x0 * side / vw, ay, -y0 * side / vh),
                        "the shapes are scaled by the frame's size over the region's"
                        f" ({w}/{vw} on x, {h}/{vh} on y): a scale kept from another frame, or"
                        f" coordinates of a {side:.0f}-px model input never scaled back",
                        True,
                    )
                )
    return out


def pair_candidates(view: View, base: Shape, got: Shape) -> list[Candidate]:
    """Every per-axis map that takes one shape's box onto another's (mirrored or not, axes
    exchanged or not): any transform at all, so one pair alone proves nothing."""
    b, g = base.box_or_none(), got.box_or_none()
    if b is None or g is None:
        return []
    out = []
    for swap in (False, True):
        bw, bh = (b[3] - b[1], b[2] - b[0]) if swap else (b[2] - b[0], b[3] - b[1])
        bcx, bcy = _centre(b)
        if swap:
            bcx, bcy = bcy, bcx
        gw, gh = g[2] - g[0], g[3] - g[1]
        if bw <= 0 or bh <= 0 or gw <= 0 or gh <= 0:
            continue
        gcx, gcy = _centre(g)
        for sx in (1, -1):
            for sy in (1, -1):
                ax, ay = sx * gw / bw, sy * gh / bh
                t = Affine(ax, gcx - ax * bcx, ay, gcy - ay * bcy, swap)
                out.append(Candidate(t, "", False))
    return out


@dataclass
class Explained:
    candidate: Candidate
    pairs: list[tuple[int, int, float]]

    @property
    def matched(self) -> int:
        return len(self.pairs)

    @property
    def mean(self) -> float:
        return sum(s for _, _, s in self.pairs) / len(self.pairs) if self.pairs else 0.0


def _compare(view: View, shapes: Sequence[Shape]) -> list[Shape]:
    return [as_point_set(s) for s in shapes] if view.relation == "flip" else list(shapes)


def explain(view: View, base: Sequence[Shape], got: Sequence[Shape], t: Candidate) -> Explained:
    mapped = _compare(view, [map_shape(s, t.transform) for s in base])
    pairs = match(mapped, _compare(view, got), MINIMUM, view.size, any_label=False)
    return Explained(t, pairs)


def in_view(view: View, shapes: Sequence[Shape]) -> list[Shape]:
    """The frame's shapes that lie wholly inside the view (a region cuts the others)."""
    out = []
    for s in shapes:
        x1, y1, x2, y2 = map_shape(s, view.expected).bbox()
        if x1 >= -1 and y1 >= -1 and x2 <= view.size[0] + 1 and y2 <= view.size[1] + 1:
            out.append(s)
    return out


def fit(view: View, base: Sequence[Shape], got: Sequence[Shape], ex: Explained) -> Affine:
    """Least squares, per axis, of the matched shapes' centres and sizes: the transform the
    answers underwent, in numbers."""
    t = ex.candidate.transform
    # per axis, rows (coefficient of a, coefficient of b, value)
    rows: dict[str, list[tuple[float, float, float]]] = {"x": [], "y": []}
    for i, j, _ in ex.pairs:
        b, g = base[i].bbox(), got[j].bbox()
        (bcx, bcy), (gcx, gcy) = _centre(b), _centre(g)
        bw, bh = b[2] - b[0], b[3] - b[1]
        if t.swap:
            bcx, bcy, bw, bh = bcy, bcx, bh, bw
        rows["x"] += [(bcx, 1.0, gcx), (math.copysign(bw, t.ax), 0.0, g[2] - g[0])]
        rows["y"] += [(bcy, 1.0, gcy), (math.copysign(bh, t.ay), 0.0, g[3] - g[1])]
    solved = []
    for axis, (a0, b0) in (("x", (t.ax, t.bx)), ("y", (t.ay, t.by))):
        r = [row for row in rows[axis] if row[0] or row[1]]
        saa = sum(a * a for a, _, _ in r)
        sab = sum(a * b for a, b, _ in r)
        sbb = sum(b * b for _, b, _ in r)
        sav = sum(a * v for a, _, v in r)
        sbv = sum(b * v for _, b, v in r)
        det = saa * sbb - sab * sab
        if abs(det) < 1e-9:
            solved.append((a0, b0))
        else:
            solved.append(((sav * sbb - sbv * sab) / det, (saa * sbv - sab * sav) / det))
    return Affine(solved[0][0], solved[0][1], solved[1][0], solved[1][1], t.swap)


def judge_view(view: View, base_answer: Invocation, answer: Invocation) -> Verdict:
    if answer.error is not None or answer.status != 200:
        status = f"HTTP {answer.status}" if answer.status is not None else "no answer"
        return Verdict(view, answer, "inconclusive", f"{view.name}: {status} (see robustness)")
    base_all = positional(base_answer.shapes)
    base = in_view(view, base_all)
    got = positional(answer.shapes)
    mapped = [map_shape(s, view.expected) for s in base]
    verdict = Verdict(view, answer, "inconclusive", mapped=mapped)
    if not base and not got:
        verdict.reason = f"{view.name}: nothing found on either, nothing to compare"
        return verdict
    expected = explain(view, base, got, Candidate(view.expected, "as expected", True))
    enough = max(1, math.ceil(0.5 * max(len(base), len(got))))
    if expected.matched >= enough:
        verdict.outcome = "agrees"
        return verdict
    candidates = named_candidates(view)
    few_base, few_got = base[:MAX_SHAPES], got[:MAX_SHAPES]
    for b in few_base:
        for g in few_got:
            if b.type == g.type and b.label == g.label:
                candidates += family_candidates(view, b, g)
                candidates += pair_candidates(view, b, g)
    best: Explained | None = None
    for c in candidates:
        if c.transform.close_to(view.expected, view.size):
            continue
        ex = explain(view, base, got, c)
        rank = (ex.matched, c.named, ex.mean)
        if best is None or rank > (best.matched, best.candidate.named, best.mean):
            best = ex
    strong = (
        best is not None
        and best.matched > expected.matched
        and best.matched >= math.ceil(0.5 * len(base))
        and best.matched >= math.ceil(0.5 * len(got))
        and best.mean >= CLOSE
        and (best.candidate.named or best.matched >= 2)
    )
    if not strong or best is None:
        verdict.reason = (
            f"{view.name}: {len(got)} shape(s) there, {len(base)} on the frame in view,"
            f" {expected.matched} where expected, and no one transform explains the rest"
        )
        return verdict
    fitted = fit(view, base, got, best)
    pattern = best.candidate.pattern or _words_for(view, fitted)
    verdict.outcome = "disagrees"
    verdict.fitted = fitted
    verdict.reason = (
        f"{view.name}: {pattern}\n  fitted over {best.matched} of {len(base)} shape(s):"
        f" {fitted.words()}; expected: {view.expected.words()}"
    )
    return verdict


def _words_for(view: View, fitted: Affine) -> str:
    e = view.expected
    parts = []
    if fitted.swap:
        parts.append("x and y exchanged")
    axes = (("x", fitted.ax, fitted.bx, e.ax, e.bx), ("y", fitted.ay, fitted.by, e.ay, e.by))
    for axis, a, b, ea, eb in axes:
        if (a > 0) != (ea > 0):
            parts.append(f"{axis} mirrored" if a < 0 else f"{axis} not mirrored")
        if abs(abs(a) - abs(ea)) > 0.02 * abs(ea):
            parts.append(f"{axis} scaled by {abs(a) / abs(ea):.3g}x what the frame asks")
        if abs(b - eb) > 1:
            parts.append(f"{axis} off by {b - eb:+.4g} px")
    return "the shapes moved by another transform than the frame: " + ", ".join(parts)


# -- the check --------------------------------------------------------------------------------


def check_geometry(
    target: Target,
    fixture: Fixture,
    relations: Sequence[str],
    views_of: Callable[[], list[View]],
    generated: bool,
) -> None:
    base = target.answer(fixture)
    if base.error is not None or base.status != 200:
        raise NotApplicable(f"no answer on {fixture.name} itself (see answered[{fixture.name}])")
    if not positional(base.shapes):
        what = "the generated frame" if generated else fixture.name
        raise NotApplicable(f"nothing found on {what}: no shapes whose place could be compared")
    again = _same_request(target, fixture)
    if again is not None and not same_answer(base, again, base.image_size or (0, 0)):
        raise NotApplicable(
            f"inconclusive: the function's own answers to the same request on {fixture.name}"
            " differ from each other, so a difference under a transform proves nothing"
        )
    views = target.prepared(geometry_key(fixture), views_of)
    if not views:
        raise NotApplicable(f"{fixture.name} is too small to flip, scale or cut")
    answers = _answers(target, fixture, views)
    verdicts = [judge_view(v, base, a) for v, a in zip(views, answers, strict=True)]
    if any(v.outcome == "disagrees" for v in verdicts) and target.ahead.workers > 1:
        # sent beside each other: judge again on answers sent alone (a difference between
        # the two is the concurrency check's business)
        alone = [send_view(target, fixture, v, target.client()) for v in views]
        for earlier, later in zip(answers, alone, strict=True):
            if not same_answer(earlier, later, later.image_size or (0, 0)):
                target.differing.append((earlier, later))
        verdicts = [judge_view(v, base, a) for v, a in zip(views, alone, strict=True)]
    wrong = [v for v in verdicts if v.outcome == "disagrees"]
    target.geometry_shown.extend((fixture.name, v) for v in wrong)
    if wrong:
        lines = [
            f"geometry: {len(wrong)} of {len(views)} transformed frames of {fixture.name}"
            " disagree with the frame itself by one transform"
        ]
        for v in wrong:
            lines.append(v.reason)
            lines.append(
                "  where the frame's answer puts them: " + "; ".join(where(s) for s in v.mapped[:8])
            )
            lines.append(v.answer.describe())
        lines.append("the frame itself:\n" + base.describe())
        raise CheckFailed("\n".join(lines))
    if not any(v.outcome == "agrees" for v in verdicts):
        raise NotApplicable("inconclusive: " + "; ".join(v.reason for v in verdicts))


def _same_request(target: Target, fixture: Fixture) -> Invocation | None:
    """Another answer of the same request, if another check received one."""
    if target.kind != "detector" or fixture.threshold is None:
        return None
    key = (fixture.name, round(fixture.threshold, 4))
    for k, inv in target.at_threshold_cache():
        if k == key:
            return inv
    return None


def _answers(target: Target, fixture: Fixture, views: list[View]) -> list[Invocation]:
    """The views' answers: sent ahead when planned (Target.prepared queued them), else now,
    up to numWorkers at once."""
    got: dict[int, Invocation] = {}
    for i in range(len(views)):
        future = target.ahead.take(("geometry", fixture.name, i))
        if future is not None:
            got[i] = future.result()
    missing = [i for i in range(len(views)) if i not in got]
    if missing:

        def unit(i: int, client: FunctionClient) -> None:
            got[i] = send_view(target, fixture, views[i], client)

        target.in_order(missing, unit)
    return [got[i] for i in range(len(views))]
