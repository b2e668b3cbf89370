"""One fixture of cvat-fn.yaml played as CVAT would play it, for each kind of function."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from harness.cvat.client import FunctionClient, ImageLike, Invocation
from harness.suite.config import Fixture
from harness.suite.similarity import same_shapes


def play(client: FunctionClient, fixture: Fixture, threshold: float | None = None) -> Invocation:
    """Send the fixture (with its ``roi``, the crop, its answer read in the frame: see
    ``Invocation.shapes``); for a tracker, start on ``image`` and return the step onto
    ``next_image`` (the answer that counts), as CVAT tracks from one frame to the next."""
    kind = client.kind
    if kind == "detector":
        return client.detect(
            fixture.image, threshold if threshold is not None else fixture.threshold, fixture.roi
        )
    if kind == "interactor":
        return client.interact(
            fixture.image,
            fixture.pos_points,
            fixture.neg_points,
            fixture.obj_bbox,
            fixture.roi,
            fixture.text_prompts,
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
        return track_session(client, fixture.image, fixture.shapes, fixture.next_image)
    raise ValueError(f"unknown function kind {kind!r}")


def states_to_continue(start: Invocation) -> list[Any] | None:
    """The states a tracker answered, to send back with the next frame as CVAT does; None
    when that answer cannot be continued from."""
    states = start.body.get("states") if isinstance(start.body, dict) else None
    return states if start.ok and isinstance(states, list) else None


def track_session(
    client: FunctionClient,
    image: ImageLike,
    shapes: Sequence[Sequence[float]],
    next_image: ImageLike | None,
) -> Invocation:
    """Start tracking ``shapes`` on ``image``, then go on to ``next_image`` with the states
    the function returned; the answer that counts is the second (the first when there is
    no next image or it cannot be continued)."""
    first = client.track(image, shapes)
    states = states_to_continue(first)
    if states is None or next_image is None:
        return first
    second = client.track(next_image, None, states)
    second.sent = f"{first.sent}; then {second.sent}"
    return second


def canonical_answer(invocation: Invocation) -> str:
    """The answer as comparable text: equal answers give equal strings (key order aside)."""
    if invocation.status != 200:
        return f"HTTP {invocation.status}: {invocation.text[:200]}"
    return json.dumps(invocation.body, sort_keys=True, default=str)


def same_answer(a: Invocation, b: Invocation, size: tuple[int, int]) -> bool:
    """Equal text, or the same shapes in any order (a set returned unordered is the same)."""
    if canonical_answer(a) == canonical_answer(b):
        return True
    if a.status != 200 or b.status != 200 or not (a.shapes or b.shapes):
        return False
    return same_shapes(a.shapes, b.shapes, size)


def answered_frame(fixture: Fixture) -> Path:
    """The frame the answer that counts is about (a tracker's is ``next_image``)."""
    return fixture.next_image or fixture.image


def frame_size(fixture: Fixture) -> tuple[int, int]:
    """(width, height) of :func:`answered_frame`: the scale of shapes that have no area."""
    with Image.open(answered_frame(fixture)) as img:
        return img.size
