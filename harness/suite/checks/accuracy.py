"""Accuracy against cvat-fn.yaml's expectations: each expected shape matched to a returned one
of its type by harness.suite.similarity (IoU for areas, OKS for keypoints, the label for tags),
precision and recall minimums over all fixtures (re-id: the expected match indexes)."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.cvat.shapes import Shape
from harness.suite.checks import CheckFailed, NotApplicable
from harness.suite.checks.target import Target
from harness.suite.config import Fixture, Minimums
from harness.suite.scenario import frame_size
from harness.suite.similarity import IOU, LABEL, OKS, best, match, measure, where


@dataclass
class Score:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0


def least(minimums: Minimums) -> dict[str, float]:
    """The minimum similarity that counts as found, per measure (a tag: its label alone)."""
    return {IOU: minimums.iou, OKS: minimums.oks, LABEL: 1.0}


def _score_shapes(target: Target, fixture: Fixture, score: Score, minimums: Minimums) -> None:
    invocation = target.answer(fixture)
    noted = len(score.notes)
    size = frame_size(fixture)
    need = least(minimums)
    expected = [e.shape() for e in fixture.expected or []]
    returned: list[Shape] = invocation.shapes
    # an expected shape without a label matches any returned label
    pairs = match(expected, returned, lambda s: need[measure(s.type)], size)
    matched_e = {i for i, _, _ in pairs}
    matched_r = {j for _, j, _ in pairs}
    score.true_positives += len(pairs)
    for i, shape in enumerate(expected):
        if i in matched_e:
            continue
        score.false_negatives += 1
        how = measure(shape.type)
        if how == LABEL:
            got = sorted({r.label for r in returned if r.type == "tag"})
            why = f"tags returned: {', '.join(got)}" if got else "no tag returned"
        else:
            same = [r for r in returned if not shape.label or r.label == shape.label]
            why = f"best {how.upper()} {best(shape, same, size):.2f}, need {need[how]:g}"
        score.notes.append(f"{fixture.name}: missed {where(shape)} ({why})")
    for j, shape in enumerate(returned):
        if j not in matched_r:
            score.false_positives += 1
            score.notes.append(f"{fixture.name}: unexpected {where(shape)}")
    if invocation.status != 200:
        score.notes.append(f"{fixture.name}: no answer (HTTP {invocation.status})")
    if len(score.notes) > noted:
        score.notes.append(invocation.describe())


def _score_matches(target: Target, fixture: Fixture, score: Score) -> None:
    invocation = target.answer(fixture)
    noted = len(score.notes)
    got = invocation.body if isinstance(invocation.body, list) else []
    for i, want in enumerate(fixture.expected_matches or []):
        have = got[i] if i < len(got) else None
        if have == want and want != -1:
            score.true_positives += 1
            continue
        if have == want:
            continue
        if want != -1:
            score.false_negatives += 1
        if isinstance(have, int) and have != -1:
            score.false_positives += 1
        score.notes.append(f"{fixture.name}: boxes0[{i}] matched {have}, expected {want}")
    if len(score.notes) > noted:
        score.notes.append(invocation.describe())


def check_accuracy(target: Target) -> Score:
    fixtures = [f for f in target.fixtures if f.has_expectations]
    if not fixtures:
        raise NotApplicable("no expectations in cvat-fn.yaml (fixtures[].expected)")
    minimums = target.config.minimums
    score = Score()
    for fixture in fixtures:
        if fixture.expected_matches is not None:
            _score_matches(target, fixture, score)
        else:
            _score_shapes(target, fixture, score, minimums)
    summary = (
        f"precision {score.precision:.2f} (minimum {minimums.precision:g}),"
        f" recall {score.recall:.2f} (minimum {minimums.recall:g})"
        f" over {len(fixtures)} fixture(s) at IoU >= {minimums.iou:g}, OKS >= {minimums.oks:g}"
    )
    if score.precision < minimums.precision or score.recall < minimums.recall:
        raise CheckFailed("accuracy below the minimums: " + summary + "\n" + "\n".join(score.notes))
    return score
