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
    Box,
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
"""A transform with a parameter read from the answers explains them only if its shapes match
at least this well on average (one predicted from the frames alone: :data:`MINIMUM`)."""
INSIDE = 0.8
"""A shape of the frame counts in a view when this much of it lies inside (a model clips a
box at the frame's edge; a region cuts what lies across its border)."""
MAX_SHAPES = 6
"""Transforms are derived from the pairs among this many shapes of each answer at most."""


@dataclass
class Candidate:
    transform: Affine
    pattern: str
    named: bool
    """Predicted from the frames' geometry (one sentence per class of bug), rather than
    fitted to one pair of shapes: a single shape suffices as evidence."""
    tier: int = 2
    """2: predicted from the frames alone; 1: a class with one parameter read from a pair of
    shapes; 0: any transform fitted to a pair."""


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
        prompt = [
            (float(p[0]), float(p[1])) for p in (*fixture.pos_points, *(fixture.obj_bbox or []))
        ]
        found = [s.bbox() for s in positional(answer.shapes)]
        for roi in regions(size, _around([(x, y, x, y) for x, y in prompt], found, size)):
            views.append(roi_view(data, size, roi))
    if kind == "interactor":
        views = [
            move_prompt(v, fixture.pos_points, fixture.neg_points, fixture.obj_bbox) for v in views
        ]
    return views


def _around(must: Sequence[Box], found: Sequence[Box], size: tuple[int, int]) -> Box | None:
    """The box the regions hold: an interactor's prompt, and the shapes found, largest first,
    while they stay within 60% of the frame on each axis (a region must be smaller than the
    frame to tell an offset)."""
    union: Box | None = None
    for i, box in enumerate([*must, *sorted(found, key=_area, reverse=True)]):
        grown = (
            box
            if union is None
            else (
                min(union[0], box[0]),
                min(union[1], box[1]),
                max(union[2], box[2]),
                max(union[3], box[3]),
            )
        )
        small = grown[2] - grown[0] <= 0.6 * size[0] and grown[3] - grown[1] <= 0.6 * size[1]
        if union is None or i < len(must) or small:
            union = grown
    return union


def _area(box: Box) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


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
            padded = (
                f"mirrored about x = {(w + 2 * px) / 2:g} instead of the frame's centre"
                f" {w / 2:g}: every shape keeps the letterbox padding ({px:g} px on x), or is"
                f" at {(w + 2 * px) / w:.3g}x the frame's scale"
            )
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
                    1,
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
                        1,
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
                        1,
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
                out.append(Candidate(t, "", False, 0))
    return out


@dataclass
class Explained:
    candidate: Candidate
    base: list[Shape]
    """The frame's shapes this transform puts inside the view (a region cuts the others)."""
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
    """How many of the frame's shapes ``t`` takes onto the view's. A shape counts when it lies
    inside the view where it belongs, or where ``t`` puts it (a bug may move it off)."""
    inside = []
    mapped = []
    for s in base:
        moved = map_shape(s, t.transform)
        belongs = map_shape(s, view.expected) if t.transform != view.expected else moved
        if max(_inside(moved.bbox(), view.size), _inside(belongs.bbox(), view.size)) >= INSIDE:
            inside.append(s)
            mapped.append(moved)
    pairs = match(_compare(view, mapped), _compare(view, got), MINIMUM, view.size, any_label=False)
    return Explained(t, inside, pairs)


def _inside(box: Box, size: tuple[int, int]) -> float:
    """How much of ``box`` lies inside a frame of ``size`` (1.0 for a box without area
    inside it)."""
    x1, y1, x2, y2 = box
    if x2 - x1 <= 0 or y2 - y1 <= 0:
        return 1.0 if 0 <= x1 <= size[0] and 0 <= y1 <= size[1] else 0.0
    ix = max(0.0, min(x2, size[0]) - max(x1, 0.0))
    iy = max(0.0, min(y2, size[1]) - max(y1, 0.0))
    return ix * iy / ((x2 - x1) * (y2 - y1))


def fit(view: View, got: Sequence[Shape], ex: Explained) -> Affine:
    """Least squares, per axis, of the matched shapes' centres and sizes: the transform the
    answers underwent, in numbers."""
    t = ex.candidate.transform
    # per axis, rows (coefficient of a, coefficient of b, value)
    rows: dict[str, list[tuple[float, float, float]]] = {"x": [], "y": []}
    for i, j, _ in ex.pairs:
        b, g = ex.base[i].bbox(), got[j].bbox()
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
    base = positional(base_answer.shapes)
    got = positional(answer.shapes)
    expected = explain(view, base, got, Candidate(view.expected, "as expected", True))
    mapped = [map_shape(s, view.expected) for s in expected.base]
    verdict = Verdict(view, answer, "inconclusive", mapped=mapped)
    if not expected.base and not got:
        verdict.reason = f"{view.name}: nothing found on either, nothing to compare"
        return verdict
    enough = max(1, math.ceil(0.5 * max(len(expected.base), len(got))))
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
        if ex.mean < (MINIMUM if c.tier == 2 else CLOSE) or (not c.named and ex.matched < 2):
            continue  # not close enough, or a fit to one pair: no evidence either way
        if best is None or _rank(ex) > _rank(best):
            best = ex
    strong = (
        best is not None
        and best.matched > expected.matched
        and best.matched >= math.ceil(0.5 * len(best.base))
        and best.matched >= math.ceil(0.5 * len(got))
        and (best.candidate.named or best.matched >= 2)
    )
    if not strong or best is None:
        verdict.reason = (
            f"{view.name}: {len(got)} shape(s) there, {len(expected.base)} on the frame in view,"
            f" {expected.matched} where expected, and no one transform explains the rest"
        )
        return verdict
    fitted = fit(view, got, best)
    pattern = best.candidate.pattern or _words_for(view, fitted)
    verdict.outcome = "disagrees"
    verdict.fitted = fitted
    verdict.reason = (
        f"{view.name}: {pattern}\n  fitted over {best.matched} of {len(best.base)} shape(s):"
        f" {fitted.words()}; expected: {view.expected.words()}"
    )
    return verdict


def _rank(ex: Explained) -> tuple[int, bool, int, float]:
    """More shapes explained first, then closely explained; then a transform predicted from
    the frames alone over a one-parameter class, over a fit to one pair; then closeness."""
    return (ex.matched, ex.mean >= CLOSE, ex.candidate.tier, ex.mean)


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
    settled = not any(v.outcome == "disagrees" for v in verdicts) and any(
        v.outcome == "agrees" for v in verdicts
    )
    if not settled and target.ahead.workers > 1:
        # sent beside each other: judge again on answers sent alone (a difference between
        # the two is the concurrency check's business)
        target.idle()
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
        others = [v for v in verdicts if v.outcome != "disagrees"]
        if others:  # the rest of the views, so a reader sees them all
            lines.append(
                "the other views: "
                + "; ".join(v.reason or f"{v.view.name}: agrees" for v in others)
            )
        lines.append("the frame itself:\n" + base.describe())
        raise CheckFailed("\n".join(lines))
    if not any(v.outcome == "agrees" for v in verdicts):
        raise NotApplicable("inconclusive: " + "; ".join(v.reason for v in verdicts))


def _same_request(target: Target, fixture: Fixture) -> Invocation | None:
    """Another answer of the same request sent alone, if another check received one (one
    received beside others may differ for the concurrency check's reasons)."""
    if target.kind != "detector" or fixture.threshold is None:
        return None
    return target.answered_alone_at(fixture, fixture.threshold)


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
