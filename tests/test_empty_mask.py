"""A correct mask detector that answers an all-zero bitmap passes the suite: CVAT stores that
answer as an empty mask (views.py ``_parse_anno`` hands the bitmap to datumaro's
``mask_to_rle``, which encodes all zeros as one run of 0s; tests/test_fork_mask_rules.py runs
the fork CVAT pins on it), so the judge warns and no check fails.

tests/functions/mask_region masks a frame's red region: its box from a lenient test, its
pixels from a strict one, so a frame only a little red gets a box and an all-zero bitmap. Its
fixture ``tiny`` is such a frame, one pixel, and robustness sends 1x1 frames of any colour.
The suite runs on it locally (process runtime) and through ``cvat-fn dashboard`` with
``--runtime url``, as a function deployed on Nuclio is tested, and every check has the same
outcome both ways."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import requests

from harness.cvat.judge import Judge
from harness.nuclio.runners.process import ProcessRunner
from harness.nuclio.spec import load_spec
from tests.dashboard_helpers import Dashboard
from tests.outcomes import by_check

FUNCTION = Path(__file__).parent / "functions" / "mask_region"
NAME = "mask-region"  # its metadata.name
CHECKS = {
    "lint": {"": "passed"},
    "starts": {"": "passed"},
    "latency": {"ready": "passed", "first_request": "passed", "warm": "passed"},
    **{
        check: {"square": "passed", "tiny": "passed"}
        for check in (
            "answered",
            "schema",
            "labels",
            "coordinates",
            "threshold",
            "threshold_monotone",
        )
    },
    # the tiny frame's mask has no pixel: no place to compare under a transform (a skip)
    "geometry": {"square": "passed", "tiny": "skipped"},
    "accuracy": {"": "passed"},
    "robustness": {"": "passed"},
    "concurrency": {"": "passed"},
}


def test_its_answer_on_the_tiny_frame_is_an_all_zero_bitmap_and_only_warned_about() -> None:
    image = base64.b64encode((FUNCTION / "tiny.png").read_bytes()).decode()
    with ProcessRunner().start(FUNCTION) as running:
        answer = requests.post(running.url, json={"image": image}, timeout=30).json()
    assert answer == [{"label": "red", "type": "mask", "mask": [0, 0, 0, 0, 0], "confidence": 0.3}]
    found = Judge.for_function(load_spec(FUNCTION)).findings(answer, image_size=(1, 1))
    assert [(f.severity, f.code, f.where) for f in found] == [
        ("warning", "mask.geometry", "[0].mask")
    ], found
    assert "CVAT stores an empty mask: nothing to see in the task" in found[0].message


def suite(pytester: pytest.Pytester, *args: str) -> dict[str, dict[str, str]]:
    result = pytester.runpytest_subprocess(
        "--function", str(FUNCTION),
        "--cvat-fn-examples", "6",
        "-p", "no:cacheprovider",
        "-v",
        *args,
    )  # fmt: skip
    outcomes = by_check(result)
    assert outcomes == CHECKS, result.stdout.str()[-4000:]
    return outcomes


def test_the_suite_passes_it_locally(pytester: pytest.Pytester) -> None:
    suite(pytester)


def test_the_suite_passes_it_through_the_dashboard_with_the_url_runtime(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    dashboard = Dashboard([FUNCTION], cwd=tmp_path, tmp=scratch)
    try:
        attrs = dashboard.wait_state(NAME)
        assert attrs["status"]["state"] == "ready", attrs
        before = len(dashboard.blocks())
        suite(
            pytester,
            "--runtime", "url",
            "--nuclio-dashboard", dashboard.url,
            "--function-name", NAME,
            "--namespace", "cvat",
        )  # fmt: skip
        judged = dashboard.blocks()[before:]
    finally:
        dashboard.stop()
    # the dashboard judged the suite's requests as CVAT's answers too, the empty mask among them
    empty = [block for block in judged if "CVAT stores an empty mask" in block]
    assert empty, "\n\n".join(judged[-5:])
    assert all("0 error(s), 1 warning(s)" in block for block in empty), empty[0]
