"""A region of interest and text prompts through cvat-fn: ``invoke --roi/--text-prompt`` run as
a user runs it, fixtures with ``roi``/``text_prompts`` read and played by the suite, and the
judge's ROI rule on an interactor that answers a mask of the wrong size.

The functions (tests/functions/roi_detector, roi_interactor) record every request they get
(tests/functions/roi_record.py), so what was sent is read on the function's side. What CVAT
2.73.0 sends and stores for the same calls is measured in tests/cvat_server/test_roi_cvat.py.
"""

from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from harness.cvat.roi import Roi, crop_frame
from harness.suite.config import ConfigError, check_kind, load_config
from tests.test_cli_invoke import ASTRONAUT, child_env

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "tests" / "functions"
DETECTOR = FUNCTIONS / "roi_detector"
INTERACTOR = FUNCTIONS / "roi_interactor"
sys.path.insert(0, str(FUNCTIONS))
from roi_record import recorded  # noqa: E402

ROI = (100, 40, 400, 300)  # offset on both axes, not square: a 300x260 crop of a 512x512 frame
ROI_ARG = ",".join(map(str, ROI))


def invoke(record: Path, *args: str | Path) -> tuple[int, str, str]:
    import subprocess

    env = dict(child_env(), CVAT_FN_ROI_RECORD=str(record))
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "invoke", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


def image_of(body: dict[str, Any]) -> bytes:
    return base64.b64decode(body["image"])


def test_invoke_roi_detector_sends_the_crop_and_shows_the_answer_in_the_frame(
    tmp_path: Path,
) -> None:
    code, out, err = invoke(
        tmp_path, ASTRONAUT, "--function", DETECTOR, "--roi", ROI_ARG, "--json",
        "--draw", tmp_path / "drawn.png",
    )  # fmt: skip
    assert code == 0, err
    (sent,) = recorded(tmp_path)
    # the crop exactly as CVAT's _get_roi makes it (tests/test_roi.py holds that to Pillow's
    # own crop-and-save; tests/cvat_server/test_roi_cvat.py to CVAT's bytes)
    assert image_of(sent) == crop_frame(ASTRONAUT.read_bytes(), Roi(*ROI))
    with Image.open(io.BytesIO(image_of(sent))) as crop:
        assert (crop.format, crop.size) == ("JPEG", (300, 260))
    (step,) = json.loads(out)["requests"]
    assert step["roi"] == list(ROI) and step["crop_size"] == [300, 260]
    assert step["frame_size"] == [512, 512]
    body, moved = step["body"], step["in_frame"]
    by_label = {s["label"]: s for s in moved}
    assert body[0]["points"] == [10, 20, 60, 80]  # the function's answer, on the crop
    assert by_label["box"]["points"] == [110, 60, 160, 120]
    assert by_label["poly"]["points"] == [105, 45, 140, 45, 140, 70]
    assert by_label["blob"]["mask"] == [1, 0, 1, 1, 1, 0, 112, 54, 114, 55]
    assert by_label["spot"]["points"] == [107, 49]
    assert [e["points"] for e in by_label["pose"]["elements"]] == [[120, 70], [125, 130]]
    shown = {s["label"]: s["box"] for s in step["shapes"]}
    assert shown["box"] == [110, 60, 160, 120]
    assert shown["blob"] == [112, 54, 114, 55]
    with Image.open(tmp_path / "drawn.png") as drawn:
        assert drawn.size[0] >= 512  # drawn on the whole frame, not the crop


def test_invoke_roi_table_says_shapes_are_moved_back(tmp_path: Path) -> None:
    code, out, err = invoke(tmp_path, ASTRONAUT, "--function", DETECTOR, "--roi", ROI_ARG)
    assert code == 0, err
    assert "roi [100, 40, 400, 300]: 300x260 crop" in out
    assert "moved back into the frame by (100, 40)" in out
    assert "[110, 60, 160, 120]" in out


def test_invoke_roi_interactor_moves_the_prompts_and_sends_text_prompts(tmp_path: Path) -> None:
    code, out, err = invoke(
        tmp_path, ASTRONAUT, "--function", INTERACTOR, "--roi", ROI_ARG,
        "--pos-points", "224,113", "--neg-points", "120,50", "--obj-bbox", "150,60,300,200",
        "--text-prompt", "a face", "--text-prompt", "smiling", "--json",
    )  # fmt: skip
    assert code == 0, err
    (sent,) = recorded(tmp_path)
    assert sent["pos_points"] == [[124, 73]]
    assert sent["neg_points"] == [[20, 10]]
    assert sent["obj_bbox"] == [[50, 20], [200, 160]]
    assert sent["text_prompts"] == ["a face", "smiling"]
    assert list(sent) == ["image", "pos_points", "neg_points", "obj_bbox", "text_prompts"]
    (step,) = json.loads(out)["requests"]
    # the function's 5x5 mask around (124, 73) in the crop is around (224, 113) in the frame
    assert step["body"]["shapes"][0]["points"] == [0, 25, 122, 71, 126, 75]
    assert step["in_frame"]["shapes"][0]["points"] == [0, 25, 222, 111, 226, 115]
    assert step["shapes"][0]["box"] == [222, 111, 226, 115]


def test_invoke_roi_interactor_legacy_mask_is_pasted_into_the_frame(tmp_path: Path) -> None:
    code, out, err = invoke(
        tmp_path, ASTRONAUT, "--function", INTERACTOR, "--roi", ROI_ARG,
        "--pos-points", "224,113", "--text-prompt", "legacy", "--json",
    )  # fmt: skip
    assert code == 0, err
    (step,) = json.loads(out)["requests"]
    assert len(step["body"]["mask"]) == 260 and len(step["body"]["mask"][0]) == 300
    pasted = step["in_frame"]["mask"]
    assert len(pasted) == 512 and len(pasted[0]) == 512
    rows = [y for y, row in enumerate(pasted) if any(row)]
    cols = [x for x in range(512) if any(row[x] for row in pasted)]
    assert (cols[0], rows[0], cols[-1], rows[-1]) == (222, 111, 226, 115)


def test_judge_fails_a_mask_of_another_size_than_the_region(tmp_path: Path) -> None:
    """ROIHelper.translate_interactor_response pastes the mask at the region with numpy: a
    10x10 mask in a 300x260 region fails (CVAT 2.73.0 answered 500; without a region, 200:
    both measured in tests/cvat_server/test_roi_cvat.py)."""
    args = (ASTRONAUT, "--function", INTERACTOR, "--pos-points", "224,113",
            "--text-prompt", "wrong-size", "--json")  # fmt: skip
    code, out, err = invoke(tmp_path, *args, "--roi", ROI_ARG)
    assert code == 1, err
    (step,) = json.loads(out)["requests"]
    (finding,) = [f for f in step["findings"] if f["code"] == "roi.mask-size"]
    assert finding["severity"] == "error"
    assert "a 10x10 mask" in finding["message"] and "300x260" in finding["message"]
    assert step["in_frame"] is None and step["shapes"] == []
    code, out, err = invoke(tmp_path, *args)
    (step,) = json.loads(out)["requests"]
    assert not [f for f in step["findings"] if f["code"].startswith("roi.")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--roi", "1,2,3"), "--roi: roi '1,2,3': four integers X1,Y1,X2,Y2, got 3 values"),
        (("--roi", "10,10,10,20"), "empty region"),
        (("--roi", "0,0,513,10"), "outside the 512x512 frame of astronaut.jpg"),
        (("--roi=-1,0,10,10",), "must not be negative"),
        (("--roi", "0.5,0,10,10"), "four integers"),
        (("--roi", "0,0,10,10", "--cvat-version", "2.69"),
         "CVAT 2.69 sends no region of interest (since 2.70)"),
        (("--text-prompt", "x"), "--text-prompt is for interactor functions, not a detector"),
    ],
)
def test_invoke_bad_roi_is_a_usage_error(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    code, out, err = invoke(tmp_path, ASTRONAUT, "--function", DETECTOR, *args)
    assert code == 2, (out, err)
    assert message in err
    assert "Traceback" not in err
    assert recorded(tmp_path) == []  # nothing was sent


def test_invoke_roi_is_refused_for_a_tracker(tmp_path: Path) -> None:
    code, _, err = invoke(
        tmp_path, ASTRONAUT, ASTRONAUT, "--url", "http://127.0.0.1:9", "--kind", "tracker",
        "--shapes", "1,1,5,5", "--roi", "0,0,10,10",
    )  # fmt: skip
    assert code == 2 and "--roi is for detector and interactor functions, not a tracker" in err


def test_invoke_text_prompts_need_cvat_2_73(tmp_path: Path) -> None:
    code, _, err = invoke(
        tmp_path, ASTRONAUT, "--function", INTERACTOR, "--pos-points", "5,5",
        "--text-prompt", "x", "--cvat-version", "2.72",
    )  # fmt: skip
    assert code == 2 and "CVAT 2.72 sends no text prompts" in err


# --- fixtures ------------------------------------------------------------------------------


def write_config(directory: Path, fixture: dict[str, Any]) -> Path:
    fixture = {"image": str(ASTRONAUT), **fixture}
    (directory / "cvat-fn.yaml").write_text(yaml.safe_dump({"fixtures": [fixture]}))
    return directory


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ({"roi": [1, 2, 3]}, "fixtures[0].roi: roi [1, 2, 3]: four integer"),
        ({"roi": [0, 0, 600, 10]}, "fixtures[0].roi: roi [0, 0, 600, 10] is outside the 512x512"),
        ({"roi": [0, 0, 10.5, 10]}, "fixtures[0].roi"),
        ({"roi": [5, 5, 5, 10]}, "empty region"),
        ({"text_prompts": "face"}, "fixtures[0].text_prompts: must be a list of non-empty"),
        ({"text_prompts": [""]}, "fixtures[0].text_prompts"),
    ],
)
def test_fixture_roi_and_text_prompts_are_checked(
    tmp_path: Path, fixture: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, fixture))
    assert message in str(caught.value)
    assert str(caught.value).startswith("cvat-fn.yaml: ")


def test_fixture_roi_only_for_detectors_and_interactors(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, {"roi": [0, 0, 10, 10], "text_prompts": ["a"]}))
    assert config.fixtures[0].roi == Roi(0, 0, 10, 10)
    assert config.fixtures[0].text_prompts == ["a"]
    with pytest.raises(ConfigError, match="fixtures\\[0\\].roi: .* not to a tracker"):
        check_kind(config, "tracker")
    with pytest.raises(ConfigError, match="fixtures\\[0\\].text_prompts: .* not to a detector"):
        check_kind(config, "detector")
    check_kind(config, "interactor")


def suite_config(directory: Path, expected: list[dict[str, Any]]) -> Path:
    """A copy of roi_detector whose one fixture has a region and these expectations."""
    target = directory / "roi_detector"
    target.mkdir()
    for name in ("function.yaml", "main.py"):
        target.joinpath(name).write_bytes((DETECTOR / name).read_bytes())
    # main.py imports it from its parent directory
    (directory / "roi_record.py").write_bytes((FUNCTIONS / "roi_record.py").read_bytes())
    fixture = {"image": str(ASTRONAUT), "name": "crop", "roi": list(ROI), "expected": expected}
    (target / "cvat-fn.yaml").write_text(yaml.safe_dump({"fixtures": [fixture]}))
    return target


FRAME_EXPECTED = [
    {"label": "box", "type": "rectangle", "points": [110, 60, 160, 120]},
    {"label": "poly", "type": "polygon", "points": [105, 45, 140, 45, 140, 70]},
    {"label": "blob", "type": "mask", "points": [112, 54, 114, 55]},
    {"label": "spot", "type": "points", "points": [107, 49]},
    {"label": "pose", "type": "skeleton", "elements": [
        {"label": "head", "points": [120, 70]}, {"label": "tail", "points": [125, 130]}]},
]


def run_accuracy(pytester: pytest.Pytester, function: Path) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "--function", str(function), "-p", "no:cacheprovider", "-k", "accuracy", "-rA"
    )


def test_fixture_roi_expected_in_frame_coordinates(pytester: pytest.Pytester) -> None:
    """accuracy compares in the frame: the expectations above are the function's answer on
    the crop moved by the region's corner, as CVAT stores it."""
    result = run_accuracy(pytester, suite_config(pytester.path, FRAME_EXPECTED))
    result.assert_outcomes(passed=1)


def test_fixture_roi_expected_in_crop_coordinates_fails(pytester: pytest.Pytester) -> None:
    """The same expectations in the crop's coordinates are not where CVAT stores the shapes."""
    in_crop = [{"label": "box", "type": "rectangle", "points": [10, 20, 60, 80]}]
    result = run_accuracy(pytester, suite_config(pytester.path, in_crop))
    result.assert_outcomes(failed=1)
    assert "roi [100, 40, 400, 300]: 300x260 crop" in result.stdout.str()


def test_geometry_is_not_applicable_to_a_fixture_with_a_region(pytester: pytest.Pytester) -> None:
    """geometry transforms whole frames; an answer on a region is no reference for them, so
    the check says why it does not apply instead of comparing the two."""
    function = suite_config(pytester.path, FRAME_EXPECTED)
    result = pytester.runpytest_subprocess(
        "--function", str(function), "-p", "no:cacheprovider", "-k", "geometry", "-rs"
    )
    result.assert_outcomes(skipped=1)
    assert "asks for a region of interest" in result.stdout.str()
