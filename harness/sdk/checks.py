"""The SDK's own rules as checks, on the function's raw answers.

The function runs behind :mod:`harness.sdk.nuclio_main` in the runtime's worker processes (a
crash there is a 500 for that request, never a crashed pytest). A probe request carries
``cvat_fn_sdk`` beside CVAT's fields and gets back what ``detect`` returned, as data, before
any conversion, and whether it read ``context.conf_threshold``.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests
from hypothesis import strategies as st

from harness.cvat.client import DEFAULT_TIMEOUT_S
from harness.cvat.requests import encode_image
from harness.sdk.nuclio_main import PROBE_KEY, SIZE_MISMATCH
from harness.sdk.rules import MASK_RULES, check_answer
from harness.suite.checks import CheckFailed, NotApplicable
from harness.suite.checks.search import falsify
from harness.suite.checks.target import Target
from harness.suite.checks.threshold import FIXED_PAIRS, THRESHOLDS
from harness.suite.config import Fixture


class SdkWarning(UserWarning):
    """Worth knowing about an SDK function, not a failure (e.g. conf_threshold never read)."""


@dataclass
class Probe:
    sent: str
    status: int
    body: Any
    text: str

    def describe(self) -> str:
        shown = json.dumps(self.body)[:1500] if self.status == 200 else self.text[:1500]
        return f"sent: {self.sent}\ngot: HTTP {self.status}: {shown}"


@dataclass
class SdkProbes:
    """Raw answers by (fixture, threshold, conv_mask_to_poly), each request sent once."""

    target: Target
    labels: list[dict[str, Any]]
    cache: dict[tuple[str, float | None, bool], Probe] = field(default_factory=dict)

    def post(self, body: dict[str, Any], sent: str) -> Probe:
        try:
            response = requests.post(self.target.url, json=body, timeout=DEFAULT_TIMEOUT_S)
        except requests.RequestException as exc:
            return Probe(sent, 0, None, f"no answer: {exc}")
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        return Probe(sent, response.status_code, parsed, response.text)

    def detect(self, fixture: Fixture, threshold: float | None, conv: bool = False) -> Probe:
        key = (fixture.name, None if threshold is None else round(threshold, 4), conv)
        if key not in self.cache:
            body: dict[str, Any] = {
                "image": encode_image(fixture.image),
                PROBE_KEY: {"conv_mask_to_poly": conv},
            }
            if key[1]:
                body["threshold"] = key[1]  # as CVAT: only when truthy
            sent = f"{fixture.image.name}, conf_threshold {key[1]}, conv_mask_to_poly {conv}"
            self.cache[key] = self.post(body, sent)
        probe = self.cache[key]
        if probe.status != 200 or not isinstance(probe.body, dict):
            raise CheckFailed("detect() failed on a probe request\n" + probe.describe())
        return probe


def _report(probe: Probe, findings: list[Any], rule: str) -> None:
    if not findings:
        return
    annotations = probe.body.get("annotations") or []
    lines = []
    for finding in findings:
        shown = ""
        if finding.index is not None and finding.index < len(annotations):
            shown = "  " + json.dumps(annotations[finding.index])[:300]
        lines.append(f"  {finding}{shown}")
    raise CheckFailed(
        f"{len(findings)} annotation(s) cvat-sdk would reject ({rule}); it fails the whole"
        " task with BadFunctionError:\n" + "\n".join(lines) + f"\nsent: {probe.sent}"
    )


def check_answer_rules(probes: SdkProbes, fixture: Fixture) -> None:
    """Label ids in the spec, shape type fits its label, no preset id/source, frame 0,
    skeletons complete with points elements, attribute values valid."""
    probe = probes.detect(fixture, fixture.threshold)
    body = probe.body
    findings = check_answer(body["annotations"], body["types"], probes.labels)
    _report(probe, findings, "cvat_sdk driver.py _AnnotationMapper")


def check_mask_to_poly(probes: SdkProbes, fixture: Fixture) -> None:
    """With conv_mask_to_poly set, no masks come back (polygons instead)."""
    probe = probes.detect(fixture, fixture.threshold, conv=True)
    body = probe.body
    findings = [
        f
        for f in check_answer(
            body["annotations"], body["types"], probes.labels, conv_mask_to_poly=True
        )
        if any(rule in f.message for rule in MASK_RULES)
    ]
    _report(probe, findings, "conv_mask_to_poly=True")


def _canonical(annotation: Any) -> str:
    return json.dumps(annotation, sort_keys=True)


def check_threshold_subset(probes: SdkProbes, fixture: Fixture, examples: int) -> None:
    """The answer at a higher conf_threshold is a sub-multiset of the one at a lower; no
    ``score`` below the threshold."""

    def subset(pair: tuple[float, float]) -> None:
        low, high = sorted(pair)
        at_low = probes.detect(fixture, low)
        at_high = probes.detect(fixture, high)
        for probe, threshold in ((at_low, low), (at_high, high)):
            for i, annotation in enumerate(probe.body["annotations"]):
                score = annotation.get("score")
                if isinstance(score, int | float) and score < threshold:
                    raise CheckFailed(
                        f"conf_threshold ignored: at {threshold:g} [{i}] has score {score:g}\n"
                        + probe.describe()
                    )
        extra = Counter(map(_canonical, at_high.body["annotations"])) - Counter(
            map(_canonical, at_low.body["annotations"])
        )
        if extra:
            first = next(iter(extra))
            raise CheckFailed(
                f"not monotone: at conf_threshold {high:g} detect() returned {first}, which it"
                f" did not return at the lower {low:g}; a higher threshold must give a subset"
                f"\n{at_high.describe()}"
            )

    falsify(st.tuples(THRESHOLDS, THRESHOLDS), examples, subset, first=FIXED_PAIRS)
    tried = [p for (name, t, _), p in probes.cache.items() if name == fixture.name and t]
    if not any(p.body.get("annotations") for p in tried if isinstance(p.body, dict)):
        raise NotApplicable(f"no annotations at any threshold tried on {fixture.name}")


def check_reads_threshold(probes: SdkProbes, fixtures: list[Fixture]) -> None:
    """A warning (not a failure) when detect() never reads context.conf_threshold: CVAT's
    threshold slider then does nothing."""
    if not fixtures:
        raise NotApplicable("no fixtures")
    probes.detect(fixtures[0], 0.5)
    read = [p.body.get("conf_threshold_read") for (_, t, _), p in probes.cache.items() if t]
    if read and not any(read):
        warnings.warn(
            SdkWarning(
                f"detect() never read context.conf_threshold in {len(read)} requests that set"
                " it: the function ignores CVAT's threshold"
            ),
            stacklevel=1,
        )


def check_tracking(probes: SdkProbes, fixture: Fixture, supported: list[str]) -> None:
    """init_tracking_state then track over the fixture frames, as the agent runs them: the
    returned shape of the original's type, the state carried from call to call, a frame of
    another size refused as the agent refuses it."""
    if not fixture.shapes:
        raise NotApplicable(f"{fixture.name} has no shapes to track")
    type_ = "rectangle" if "rectangle" in supported else supported[0]
    shapes = [{"type": type_, "points": s} for s in fixture.shapes]
    image = encode_image(fixture.image)
    start = probes.post(
        {"image": image, "shapes": shapes, "states": [], PROBE_KEY: {}},
        f"{fixture.image.name}: init_tracking_state for {len(shapes)} {type_}(s)",
    )
    if start.status != 200 or not isinstance(start.body, dict):
        raise CheckFailed("init_tracking_state failed\n" + start.describe())
    states = start.body["states"]
    frames = [fixture.next_image or fixture.image, fixture.image]
    for step, frame in enumerate(frames, 1):
        probe = probes.post(
            {"image": encode_image(frame), "shapes": [None] * len(states), "states": states,
             PROBE_KEY: {}},
            f"{frame.name}: track step {step} with the states of step {step - 1}",
        )  # fmt: skip
        if probe.status != 200 or not isinstance(probe.body, dict):
            raise CheckFailed(f"track() failed at step {step}\n" + probe.describe())
        for i, shape in enumerate(probe.body["shapes"]):
            if shape is not None and shape.get("type") != type_:
                raise CheckFailed(
                    f"[{i}] function output shape of type {shape.get('type')!r}, but original"
                    f" shape was of type {type_!r} (cvat-cli agent_driver_tracking.py"
                    f" _worker_job_track)\n{probe.describe()}"
                )
        states = probe.body["states"]
    _check_other_size(probes, fixture, states)


def _check_other_size(probes: SdkProbes, fixture: Fixture, states: list[Any]) -> None:
    from io import BytesIO

    from PIL import Image

    with Image.open(fixture.image) as image:
        smaller = image.convert("RGB").resize((max(1, image.width // 2), max(1, image.height // 2)))
    buffer = BytesIO()
    smaller.save(buffer, format="PNG")
    probe = probes.post(
        {"image": encode_image(buffer.getvalue()), "shapes": [None] * len(states),
         "states": states, PROBE_KEY: {}},
        f"{fixture.image.name} at half size: track with the full-size states",
    )  # fmt: skip
    if probe.status == 200 or SIZE_MISMATCH not in probe.text:
        raise CheckFailed(
            "a frame of another size was not refused as cvat-cli's agent refuses it"
            f" ({SIZE_MISMATCH!r})\n{probe.describe()}"
        )


def check_interaction(probes: SdkProbes, fixture: Fixture) -> None:
    """detect() answers InteractionResultShape objects, and masks among them when it answers
    anything: CVAT's UI ignores every other shape type (cvat_sdk interface.py
    ``InteractionResultShape``), so a polygon-only answer shows the user nothing."""
    body: dict[str, Any] = {
        "image": encode_image(fixture.image),
        "pos_points": fixture.pos_points,
        "neg_points": fixture.neg_points,
        "obj_bbox": fixture.obj_bbox,
        PROBE_KEY: {},
    }
    sent = f"{fixture.image.name}, pos {fixture.pos_points}, neg {fixture.neg_points}"
    probe = probes.post(body, sent + f", box {fixture.obj_bbox}")
    if probe.status != 200 or not isinstance(probe.body, dict):
        raise CheckFailed("detect() failed on a probe request\n" + probe.describe())
    shapes, types = probe.body["shapes"], probe.body["types"]
    for i, name in enumerate(types):
        if name != "InteractionResultShape":
            raise CheckFailed(
                f"[{i}] function output an object of type {name!r} (expected"
                f" 'InteractionResultShape')\n{probe.describe()}"
            )
    kinds = [s.get("type") for s in shapes]
    if shapes and "mask" not in kinds:
        raise CheckFailed(
            f"no mask among the {len(shapes)} shape(s) ({', '.join(map(str, kinds))}): CVAT's UI"
            f" shows only masks from an interaction function\n{probe.describe()}"
        )
    if any(k != "mask" for k in kinds):
        warnings.warn(
            SdkWarning(f"{fixture.name}: CVAT's UI ignores the non-mask shapes in {kinds}"),
            stacklevel=1,
        )
