"""Tracking through cvat-fn's Nuclio adapter agrees with cvat-cli's agent, case by case.

cvat-cli's agent tracks in ``cvat_cli/_internal/agent_driver_tracking.py`` (2.80.0):
``_worker_job_init_tracking`` makes one state per shape, ``_worker_job_track`` refuses a frame
of another size and an answer of another shape type. Those two functions are driven here
directly (``set_worker_current_function`` and ``init_worker``, as the agent's worker does),
with the same function and frames as :mod:`harness.sdk.nuclio_main` gets through real
``nuclio_sdk`` Event and Context objects, and the verdicts (the shapes, or the error) must be
the same.
"""

from __future__ import annotations

import base64
import importlib.util
import itertools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

cvataa = pytest.importorskip("cvat_sdk.auto_annotation")
agent = pytest.importorskip("cvat_cli._internal.agent_driver")
agent_tracking = pytest.importorskip("cvat_cli._internal.agent_driver_tracking")
import nuclio_sdk  # noqa: E402
from PIL import Image  # noqa: E402

from harness.sdk import nuclio_main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FRAME0 = ROOT / "fixtures/images/chelsea_track0.jpg"
FRAME1 = ROOT / "fixtures/images/chelsea_track1.jpg"
BOXES = [[95.0, 55.0, 170.0, 120.0], [190.0, 190.0, 255.0, 240.0]]


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


SAMPLE = _load(ROOT / "sample_functions/sdk_template_tracker/template_matching.py", "tm_sample")
BROKEN = _load(ROOT / "tests/sdk_functions/broken_tracker_type/broken_tracker_type.py", "tm_broken")


class Loses:
    """The sample, except that track() loses every object (None is a valid answer)."""

    spec = SAMPLE.spec
    preprocess_image = staticmethod(SAMPLE.preprocess_image)
    init_tracking_state = staticmethod(SAMPLE.init_tracking_state)

    @staticmethod
    def track(context: Any, image: Any, state: Any) -> None:
        return None


def agent_verdict(function: Any, frames: list[Path]) -> Any:
    agent.set_worker_current_function(function)
    ids = (f"state-{i}" for i in itertools.count())
    agent_tracking.AgentTrackingFunctionDriver.init_worker(lambda: next(ids))
    shapes = [cvataa.TrackableShape(type="rectangle", points=box) for box in BOXES]
    try:
        states = agent_tracking._worker_job_init_tracking(1, Image.open(frames[0]), shapes)
        answers = []
        for frame in frames[1:]:
            tracked = agent_tracking._worker_job_track(1, Image.open(frame), states)
            answers.append(
                [None if s is None else [round(v, 2) for v in s.points] for s in tracked]
            )
    except Exception as exc:  # BadFunctionError, BadArError
        return str(exc)
    return answers


def adapter_verdict(function: Any, frames: list[Path]) -> Any:
    os.environ[nuclio_main.ENV_STATE_KEY] = "differential"
    context = nuclio_sdk.Context(logger=nuclio_sdk.Logger(level=40), worker_id="0")
    context.user_data = SimpleNamespace(function=function, kind="tracker", harness=False)

    def call(frame: Path, body: dict[str, Any]) -> Any:
        body["image"] = base64.b64encode(frame.read_bytes()).decode()
        event = nuclio_sdk.Event(body=json.dumps(body).encode(), content_type="application/json")
        return json.loads(nuclio_main.handler(context, event).body)

    try:
        first = call(frames[0], {"shapes": [{"type": "rectangle", "points": b} for b in BOXES]})
        states, answers = first["states"], []
        for frame in frames[1:]:
            answer = call(frame, {"shapes": [None] * len(states), "states": states})
            states = answer["states"]
            answers.append([None if s is None else s["points"] for s in answer["shapes"]])
    except Exception as exc:
        return str(exc)
    return answers


def _half(tmp: Path) -> Path:
    path = tmp / "half.png"
    with Image.open(FRAME1) as image:
        image.resize((image.width // 2, image.height // 2)).save(path)
    return path


CASES: list[tuple[str, Any, Callable[[Path], list[Path]]]] = [
    ("tracks over two frames", SAMPLE, lambda tmp: [FRAME0, FRAME1, FRAME0]),
    ("answers another shape type", BROKEN, lambda tmp: [FRAME0, FRAME1]),
    ("loses the objects", Loses, lambda tmp: [FRAME0, FRAME1]),
    ("a frame of another size", SAMPLE, lambda tmp: [FRAME0, _half(tmp)]),
]


@pytest.mark.parametrize(("function", "frames"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_same_verdict_as_cvat_cli_agent(tmp_path: Path, function: Any, frames: Any) -> None:
    expected = agent_verdict(function, frames(tmp_path))
    assert adapter_verdict(function, frames(tmp_path)) == expected


def test_the_cases_cover_both_verdicts(tmp_path: Path) -> None:
    verdicts = [agent_verdict(c[1], c[2](tmp_path)) for c in CASES]
    assert [isinstance(v, str) for v in verdicts] == [False, True, False, True], verdicts
