"""harness/cvat/roi.py against what CVAT 2.73.0's server does with a region of interest.

Read from cvat-ai/cvat v2.73.0 ``cvat/apps/lambda_manager/utils.py`` (``ROIHelper.parse_roi``,
``crop_image``, ``translate_prompt_points``, ``translate_detector_shapes``,
``translate_interactor_response``) and ``views.py`` (``LambdaFunction.invoke``, ``_get_roi``).
The crop's bytes are compared with the real CVAT in tests/cvat_server/test_roi_cvat.py.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.cvat.findings import Finding
from harness.cvat.judge import Judge
from harness.cvat.requests import interactor_request
from harness.cvat.roi import (
    Roi,
    RoiError,
    crop_frame,
    detector_answer_to_frame,
    frame_size,
    interactor_answer_to_frame,
    prompt_into_crop,
    roi_findings,
)

IMAGES = Path(__file__).resolve().parents[1] / "fixtures" / "images"


def _png(size: tuple[int, int], mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 128).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1, 2, 3], "four integer"),  # parse_roi: len(roi) != 4
        ([0, 0, 10.0, 10], "four integer"),  # isinstance(coordinate, int)
        ([0, 0, True, 10], "four integer"),  # bool refused
        ([-1, 0, 10, 10], "negative"),
        ([5, 0, 5, 10], "empty"),  # xbr <= xtl
        ([0, 7, 10, 3], "empty"),  # ybr <= ytl
        ("0,0,1,1", "four integer"),
    ],
)
def test_roi_refuses_what_parse_roi_refuses(value: object, message: str) -> None:
    with pytest.raises(RoiError, match=message):
        Roi.from_value(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [("1,2,3", "got 3 values"), ("1,2,3,4,5", "got 5 values"), ("a,2,3,4", "four integers"),
     ("", "got 1 values"), ("10,10,5,20", "empty")],
)
def test_roi_parse_names_the_value(text: str, message: str) -> None:
    with pytest.raises(RoiError, match=message):
        Roi.parse(text)


def test_roi_parse() -> None:
    roi = Roi.parse(" 100, 0,400 ,300")
    assert roi.as_list() == [100, 0, 400, 300]
    assert roi.size == (300, 300)


def test_outside_the_frame_as_crop_image_refuses() -> None:
    frame = _png((512, 512))
    # crop_image: xbr > width or ybr > height -> 400; an edge equal to the size is inside
    assert frame_size(crop_frame(frame, Roi(0, 0, 512, 512))) == (512, 512)
    with pytest.raises(RoiError, match="outside the 512x512 frame"):
        crop_frame(frame, Roi(0, 0, 513, 10))
    with pytest.raises(RoiError, match="outside"):
        crop_frame(frame, Roi(0, 500, 10, 600))


def test_jpeg_frame_is_cropped_and_reencoded_at_pillow_default_quality() -> None:
    """_get_roi: Image.open, crop, save(format=image.format) -- a JPEG again, quality 75."""
    frame = (IMAGES / "astronaut.jpg").read_bytes()
    roi = Roi(100, 20, 400, 300)
    crop = crop_frame(frame, roi)
    with Image.open(io.BytesIO(crop)) as im:
        assert im.format == "JPEG"
        assert im.size == (300, 280)
    with Image.open(io.BytesIO(frame)) as im:
        expected = io.BytesIO()
        im.crop((100, 20, 400, 300)).save(expected, format="JPEG", quality=75)
    assert crop == expected.getvalue()


def test_png_frame_stays_png() -> None:
    frame = _png((64, 48), "L")
    crop = crop_frame(frame, Roi(10, 5, 30, 45))
    with Image.open(io.BytesIO(crop)) as im:
        assert (im.format, im.mode, im.size) == ("PNG", "L", (20, 40))


def test_prompts_move_into_the_crop() -> None:
    """invoke: translate_prompt_points with dx=-xtl, dy=-ytl for each of the three; the issue's
    measurement: [224, 113] with roi [100, 0, 400, 300] arrived as [124, 113]."""
    roi = Roi(100, 0, 400, 300)
    pos, neg, bbox = prompt_into_crop(roi, [[224, 113]], [[90, 5.5]], [[110, 10], [200, 90]])
    assert pos == [[124, 113]]
    assert neg == [[-10, 5.5]]  # outside the region: moved all the same, not dropped
    assert bbox == [[10, 10], [100, 90]]
    assert prompt_into_crop(roi, [], [], None) == ([], [], None)
    assert prompt_into_crop(roi, [], [], [])[2] == []


def test_prompt_that_is_no_pair_is_refused() -> None:
    with pytest.raises(RoiError, match="pos_points"):
        prompt_into_crop(Roi(0, 0, 5, 5), [1, 2], [], None)


def test_detector_shapes_move_back() -> None:
    """translate_detector_shapes: flat points by (xtl, ytl); a mask's last four only;
    elements recursively; tags untouched."""
    roi = Roi(100, 40, 400, 300)
    answer = [
        {"label": "face", "type": "rectangle", "points": [1, 2, 30, 40]},
        {"label": "face", "type": "polygon", "points": [0, 0, 10, 0, 10, 10]},
        {"label": "m", "type": "mask", "mask": [0, 4, 0, 5, 6, 6, 7], "points": [5, 5, 6, 6]},
        {"label": "s", "type": "skeleton", "elements": [
            {"label": "nose", "type": "points", "points": [3, 4]}]},
        {"label": "t", "type": "tag"},
    ]
    moved = detector_answer_to_frame(answer, roi)
    assert moved[0]["points"] == [101, 42, 130, 80]
    assert moved[1]["points"] == [100, 40, 110, 40, 110, 50]
    assert moved[2]["mask"] == [0, 4, 0, 105, 46, 106, 47]
    assert moved[2]["points"] == [105, 45, 106, 46]  # the polygon conv_mask_to_poly stores
    assert moved[3]["elements"][0]["points"] == [103, 44]
    assert moved[4] == {"label": "t", "type": "tag"}
    assert answer[0]["points"] == [1, 2, 30, 40]  # a new answer, the old one untouched


def test_interactor_mask_is_pasted_at_the_region() -> None:
    """translate_interactor_response: np.zeros((H, W)) with the mask at [ytl:ybr, xtl:xbr]."""
    roi = Roi(2, 1, 5, 3)
    mask = [[1, 0, 1], [0, 1, 1]]
    out = interactor_answer_to_frame({"mask": mask}, roi, (6, 4))
    expected = np.zeros((4, 6), dtype=int)
    expected[1:3, 2:5] = mask
    assert out["mask"] == expected.tolist()


def test_interactor_mask_of_another_size_fails_as_in_cvat() -> None:
    """Measured on CVAT 2.73.0: a 10x10 mask with a region answered 500."""
    with pytest.raises(RoiError, match=r"a 10x10 mask does not fit the 300x300 region"):
        interactor_answer_to_frame({"mask": [[0] * 10] * 10}, Roi(100, 0, 400, 300), (512, 512))


def test_interactor_mask_row_is_repeated_by_numpy() -> None:
    """numpy broadcasts a single row over the region: CVAT does not fail, it repeats it."""
    out = interactor_answer_to_frame({"mask": [[1, 0, 1]]}, Roi(0, 0, 3, 2), (3, 2))
    assert out["mask"] == [[1, 0, 1], [1, 0, 1]]


def test_interactor_shapes_move_back_and_malformed_ones_fail() -> None:
    roi = Roi(10, 20, 50, 60)
    out = interactor_answer_to_frame(
        {"shapes": [{"type": "mask", "points": [0, 3, 1, 1, 2, 2]}]}, roi, (100, 100)
    )
    assert out["shapes"][0]["points"] == [0, 3, 11, 21, 12, 22]
    with pytest.raises(RoiError, match=r"shapes\[0\]"):
        interactor_answer_to_frame({"shapes": ["mask"]}, roi, (100, 100))
    with pytest.raises(RoiError, match=r"shapes\[0\].points"):
        interactor_answer_to_frame({"shapes": [{"type": "mask", "points": "x"}]}, roi, (100, 100))


def test_interactor_bare_list_is_not_moved() -> None:
    """A bare list has neither "mask" nor "shapes": CVAT passes it as it is."""
    answer = [[1, 2], [3, 4]]
    assert interactor_answer_to_frame(answer, Roi(10, 10, 20, 20), (30, 30)) == answer


# --- the judge's rules for an answer to a request with a region --------------------------


def _codes(found: list[Finding]) -> list[tuple[str, str]]:
    return [(f.severity, f.code) for f in found]


def test_judge_mask_of_another_size_is_an_error_naming_both() -> None:
    found = roi_findings("interactor", {"mask": [[1] * 10] * 10}, Roi(100, 0, 400, 300),
                         (512, 512), "2.73")  # fmt: skip
    assert _codes(found) == [("error", "roi.mask-size")]
    assert "a 10x10 mask, not the 300x300 of the region [100, 0, 400, 300]" in found[0].message
    assert "500" in found[0].message


def test_judge_mask_numpy_repeats_is_a_loss() -> None:
    found = roi_findings("interactor", {"mask": [[1, 0, 1]]}, Roi(0, 0, 3, 2), (3, 2), "2.73")
    assert _codes(found) == [("loss", "roi.mask-size")]
    assert "repeats" in found[0].message


def test_judge_mask_of_the_crop_size_and_detectors_pass() -> None:
    roi = Roi(2, 1, 5, 3)
    assert roi_findings("interactor", {"mask": [[1, 0, 1], [0, 1, 1]]}, roi, (6, 4), "2.73") == []
    assert roi_findings("interactor", '{"mask": [[1, 0, 1], [0, 1, 1]]}', roi, (6, 4), "2.73") == []
    assert roi_findings("detector", [{"type": "rectangle"}], roi, (6, 4), "2.73") == []


def test_judge_interactor_shape_cvat_cannot_move() -> None:
    roi = Roi(0, 0, 10, 10)
    found = roi_findings(
        "interactor",
        {"shapes": [{"type": "mask", "points": [0, 4, 1, 1, 2, 2]}, 7,
                    {"type": "polygon", "points": [1, "2"]}]},
        roi, (20, 20), "2.73",
    )  # fmt: skip
    assert [(f.where, f.code) for f in found] == [
        ("shapes[1]", "roi.shapes"),
        ("shapes[2].points", "roi.shapes"),
    ]


def test_judge_applies_the_rules_only_with_a_region() -> None:
    judge = Judge("interactor", None, "2.73")
    body = {"mask": [[1] * 10] * 10}
    assert "roi.mask-size" not in {f.code for f in judge.findings(body, image_size=(300, 300))}
    with_roi = judge.findings(
        body, image_size=(300, 300), roi=Roi(100, 0, 400, 300), frame_size=(512, 512)
    )
    assert "roi.mask-size" in {f.code for f in with_roi}


def test_text_prompts_sent_as_cvat_does() -> None:
    """views.py invoke: ``if text_prompts: payload["text_prompts"] = text_prompts``."""
    body = interactor_request(b"x", [[1, 2]], text_prompts=["a", "b"])
    assert list(body)[-1] == "text_prompts" and body["text_prompts"] == ["a", "b"]
    assert "text_prompts" not in interactor_request(b"x", [[1, 2]], text_prompts=[])
    old = interactor_request(b"x", [[1, 2]], text_prompts=["a"], cvat_version="2.72")
    assert "text_prompts" not in old


def test_release_without_regions_sends_the_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before ROI_SINCE no request carries a region: the client sends the whole frame."""
    from harness.cvat.client import FunctionClient
    from harness.nuclio.runners.process import ProcessRunner
    from harness.nuclio.spec import load_spec

    detector = Path(__file__).parent / "functions" / "roi_detector"
    frame = (IMAGES / "astronaut.jpg").read_bytes()
    monkeypatch.setenv("CVAT_FN_ROI_RECORD", str(tmp_path))  # the function records there
    with ProcessRunner().start(detector) as running:
        spec = load_spec(detector)
        old = FunctionClient.for_function(running.url, spec, cvat_version="2.69")
        inv = old.detect(frame, None, Roi(100, 40, 400, 300))
        assert inv.roi is None and "not sent: CVAT 2.69 has none" in inv.sent
        assert inv.shapes[0].points == [10, 20, 60, 80]
        new = FunctionClient.for_function(running.url, spec, cvat_version="2.70")
        inv = new.detect(frame, None, Roi(100, 40, 400, 300))
        assert inv.roi == Roi(100, 40, 400, 300) and inv.image_size == (300, 260)
        assert inv.shapes[0].points == [110, 60, 160, 120]
    first, second = sorted(tmp_path.glob("*.json"))
    assert json.loads(first.read_text())["image"] == base64.b64encode(frame).decode()
    crop = crop_frame(frame, Roi(100, 40, 400, 300))
    assert json.loads(second.read_text())["image"] == base64.b64encode(crop).decode()
