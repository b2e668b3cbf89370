"""One fixture of cvat-fn.yaml played as CVAT would play it, for each kind of function."""

from __future__ import annotations

import json

from harness.client import FunctionClient, Invocation
from harness.config import Fixture


def play(client: FunctionClient, fixture: Fixture, threshold: float | None = None) -> Invocation:
    """Send the fixture; for a tracker, start on ``image`` and return the step onto
    ``next_image`` (the answer that counts), as CVAT tracks from one frame to the next."""
    kind = client.kind
    if kind == "detector":
        return client.detect(
            fixture.image, threshold if threshold is not None else fixture.threshold
        )
    if kind == "interactor":
        return client.interact(
            fixture.image, fixture.pos_points, fixture.neg_points, fixture.obj_bbox
        )
    if kind == "reid":
        return client.reid(
            fixture.image,
            fixture.image1 or fixture.image,
            fixture.boxes0,
            fixture.boxes1,
            threshold if threshold is not None else fixture.threshold,
            fixture.max_distance,
        )
    if kind == "tracker":
        first = client.track(fixture.image, fixture.shapes)
        if not first.ok or fixture.next_image is None:
            return first
        states = first.body.get("states") if isinstance(first.body, dict) else None
        if not isinstance(states, list):
            return first
        second = client.track(fixture.next_image, None, states)
        second.sent = f"{first.sent}; then {second.sent}"
        return second
    raise ValueError(f"unknown function kind {kind!r}")


def canonical_answer(invocation: Invocation) -> str:
    """The answer as comparable text: equal answers give equal strings (key order aside)."""
    if invocation.status != 200:
        return f"HTTP {invocation.status}: {invocation.text[:200]}"
    return json.dumps(invocation.body, sort_keys=True, default=str)
