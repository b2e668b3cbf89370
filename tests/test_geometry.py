"""The geometry check catches geometric bugs without any expected answer, and names them; it
raises no false alarm on correct models that resample. Each function in tests/functions/geom_*
is the face detector or the GrabCut sample behind one classic pre- or post-processing step
(see geom_base.py), with a cvat-fn.yaml of three photos and no ``expected``: on those photos
every bug keeps its shapes inside the frame, so no other check can tell.

The regions are cut as CVAT 2.73.0 cuts them: ``cvat/apps/lambda_manager/utils.py``
``ROIHelper.crop_image`` (Pillow's ``crop``) and ``views.py`` ``_get_roi`` (saved again in the
frame's own format, PNG where it has none); the interactor's prompt moves as
``ROIHelper.translate_prompt_points`` moves it."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from harness.cvat.client import Invocation
from harness.cvat.roi import Roi, crop_frame
from harness.cvat.shapes import MASK_BITMAP, Shape
from harness.suite.checks.geometry import judge_view, named_candidates
from harness.suite.config import ConfigError, load_config
from harness.suite.relations import (
    Affine,
    View,
    flip_view,
    map_shape,
    regions,
    roi_view,
    scale_view,
)
from harness.suite.similarity import similarity
from tests.outcomes import by_check

FUNCTIONS = Path(__file__).parent / "functions"
SAMPLES = Path(__file__).parents[1] / "sample_functions"
FRAMES = ("square", "wide", "tall")
CLICKS = ("square", "wide", "rocket")


@dataclass(frozen=True)
class Bug:
    function: str
    fails: tuple[str, ...]
    """The fixtures whose geometry item must fail."""
    says: str
    """What every one of those failures names."""


BUGS = [
    Bug("geom_not_scaled_back", FRAMES, "at 1.5x they come back at 1x"),
    Bug("geom_xy_swapped", FRAMES, "x and y exchanged"),
    Bug("geom_letterbox_kept", FRAMES, "letterbox padding"),
    Bug("geom_wrong_axis_ratios", ("square",), "the resize ratios are applied on the wrong axes"),
    Bug("geom_half_size", FRAMES, "the shapes are at 0.5"),
    Bug("geom_scale_once", FRAMES, "at 1.5x they come back at 1x"),
    Bug("geom_crop_offset", ("wide",), "every offset equals the region's corner"),
    Bug("geom_mask_shifted", CLICKS, "box shifted by its own size"),
    Bug("geom_mask_xy_swapped", CLICKS, "x and y exchanged"),
]
CORRECT = [
    ("geom_ok_letterbox", FRAMES),
    ("geom_ok_multiscale", FRAMES),
]


def geometry_run(pytester: pytest.Pytester, function: Path) -> tuple[dict[str, str], str]:
    """The outcome of each geometry item of an inner run (only those selected), and its text
    followed by its HTML report."""
    html = pytester.path / "report.html"
    result = pytester.runpytest_subprocess(
        f"--function={function}",
        "-p",
        "no:cacheprovider",
        "-v",
        "-rA",
        "-k",
        "geometry[",
        f"--cvat-fn-html={html}",
    )
    return by_check(result).get("geometry", {}), result.stdout.str() + html.read_text()


def failure_of(text: str, function: str, fixture: str) -> str:
    """The failure text of one geometry item, from -rA's report."""
    head = f"{function}::geometry[{fixture}]: geometry:"
    start = text.index(head)
    end = text.find("\n_____", start)
    return text[start : end if end > 0 else None]


@pytest.mark.parametrize("bug", BUGS, ids=lambda b: b.function)
def test_each_geometric_bug_fails_geometry_and_is_named(
    pytester: pytest.Pytester, bug: Bug
) -> None:
    outcomes, text = geometry_run(pytester, FUNCTIONS / bug.function)
    failed = {fx for fx, outcome in outcomes.items() if outcome == "failed"}
    assert failed >= set(bug.fails), (outcomes, text[-3000:])
    for fixture in bug.fails:
        report = failure_of(text, bug.function, fixture)
        assert bug.says in report, report
        assert "fitted over" in report and "expected: x ->" in report  # the transform, in words
        assert report.count("sent: ") >= 2, report  # both answers: the view's and the frame's
        wrong, _, views = report.split("geometry: ", 1)[1].split(" ", 3)[:3]
        assert ("the other views: " in report) == (int(wrong) < int(views)), report
        view = report.splitlines()[1].split(":")[0]  # "flipped left to right", "at 1.5x", ...
        assert f'<img alt="{fixture} {view}"' in text  # drawn in the HTML report
    assert "expected" not in (FUNCTIONS / bug.function / "cvat-fn.yaml").read_text().replace(
        "expected answers", ""
    )


@pytest.mark.parametrize(
    ("function", "fixtures"),
    [
        *((FUNCTIONS / name, fx) for name, fx in CORRECT),
        (SAMPLES / "face_detector", ("astronaut",)),
        (SAMPLES / "grabcut_interactor", ()),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else "",
)
def test_correct_models_that_resample_raise_no_false_alarm(
    pytester: pytest.Pytester, function: Path, fixtures: tuple[str, ...]
) -> None:
    outcomes, text = geometry_run(pytester, function)
    assert outcomes, text[-2000:]
    assert "failed" not in outcomes.values(), text[-4000:]
    for fixture in fixtures:  # where the model finds something, the relations are confirmed
        assert outcomes[fixture] == "passed", text[-2000:]


# -- the pieces, without a function ----------------------------------------------------------


def test_a_region_is_cut_and_encoded_as_cvat_does() -> None:
    """The region views are the crop CVAT sends (harness.cvat.roi.crop_frame, measured against
    CVAT 2.73.0's ROIHelper in tests/test_roi.py and tests/cvat_server/test_roi_cvat.py)."""
    data = (SAMPLES.parent / "fixtures" / "images" / "astronaut.jpg").read_bytes()
    roi = (100, 20, 400, 220)
    view = roi_view(data, (512, 512), roi)
    assert view.image == crop_frame(data, Roi(*roi))
    with Image.open(io.BytesIO(view.image)) as img:
        assert (img.format, img.size) == ("JPEG", (300, 200))


def test_regions_are_offset_on_both_axes_and_never_square() -> None:
    for size, around in (
        ((512, 512), (176.0, 65.0, 272.0, 161.0)),
        ((640, 427), (309.0, 149.0, 336.0, 407.0)),
        ((340, 512), (0.0, 0.0, 50.0, 50.0)),
        ((512, 512), None),
    ):
        cut = regions(size, around)
        assert len(cut) == 2, (size, around)
        for x1, y1, x2, y2 in cut:
            assert x1 >= 1 and y1 >= 1 and x2 <= size[0] and y2 <= size[1]
            assert x2 - x1 != y2 - y1


def _mask(box: tuple[int, int, int, int], rows: list[list[int]]) -> Shape:
    flat = [float(v) for r in rows for v in r]
    return Shape("", "mask", flat + [float(v) for v in box], encoding=MASK_BITMAP)


def test_a_mask_moves_with_its_bitmap() -> None:
    """An L-shaped mask flipped, exchanged and doubled stays the same area, compared by IoU."""
    rows = [[1, 0, 0], [1, 0, 0], [1, 1, 1]]
    mask = _mask((10, 20, 12, 22), rows)
    flipped = map_shape(mask, Affine(-1, 100, 1, 0))
    assert flipped.bbox() == (87, 20, 89, 22)
    assert flipped.mask() == [[0, 0, 1], [0, 0, 1], [1, 1, 1]]
    assert map_shape(mask, Affine(1, 0, 1, 0, swap=True)).mask() == [
        [1, 1, 1],
        [0, 0, 1],
        [0, 0, 1],
    ]
    doubled = map_shape(mask, Affine(2, 0, 2, 0))
    assert doubled.bbox() == (20, 40, 25, 45)
    assert similarity(map_shape(doubled, Affine(0.5, 0, 0.5, 0)), mask) == 1.0


def test_exchanged_axes_are_predicted_for_every_relation() -> None:
    """x and y exchanged is the expected transform with its axes exchanged: under the flip,
    a top-to-bottom mirror; in a region, the corner's x taken off y."""
    flip = View("flip", "flipped", b"", (512, 340), Affine(-1, 512, 1, 0), (512, 340))
    region = View("roi", "region", b"", (300, 200), Affine(1, -50, 1, -20), (512, 340))
    (exchanged_flip,) = [c for c in named_candidates(flip) if "exchanged" in c.pattern]
    (exchanged_roi,) = [c for c in named_candidates(region) if "exchanged" in c.pattern]
    assert exchanged_flip.transform == Affine(1, 0, -1, 512)
    assert exchanged_roi.transform == Affine(1, -20, 1, -50)


def test_geometry_can_be_turned_off_in_cvat_fn_yaml(tmp_path: Path) -> None:
    (tmp_path / "cvat-fn.yaml").write_text("skip: [geometry]\ngeometry: [flip, roi]\n")
    config = load_config(tmp_path)
    assert config.skip == ("geometry",)
    assert config.geometry == ("flip", "roi")
    (tmp_path / "cvat-fn.yaml").write_text("geometry: [mirror]\n")
    with pytest.raises(ConfigError, match=r"geometry\[0\]: 'mirror' is not a relation"):
        load_config(tmp_path)
    (tmp_path / "cvat-fn.yaml").write_text("skip: [geometri]\n")
    with pytest.raises(ConfigError, match=r"skip\[0\]: 'geometri' is not a check"):
        load_config(tmp_path)


def test_a_skipped_check_says_where_it_was_turned_off(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    function = tmp_path / "xy_swapped"
    source = FUNCTIONS / "geom_xy_swapped"
    function.mkdir()
    for name in ("function.yaml", "main.py"):
        text = (source / name).read_text()
        if name == "main.py":  # geom_base.py is found beside the original
            text = text.replace("Path(__file__).resolve().parents[1]", repr(str(FUNCTIONS)))
        (function / name).write_text(text)
    (function / "cvat-fn.yaml").write_text(
        "fixtures:\n  - {image: %s, name: square, threshold: 0.5}\nskip: [geometry]\n"
        % (SAMPLES.parent / "fixtures" / "images" / "astronaut.jpg")
    )
    result = pytester.runpytest_subprocess(
        f"--function={function}", "-p", "no:cacheprovider", "-v", "-rA", "-k", "geometry["
    )
    assert by_check(result)["geometry"] == {"square": "skipped"}
    result.stdout.fnmatch_lines(["*turned off in cvat-fn.yaml: skip: [[]geometry[]]*"])


def _answer(size: tuple[int, int], *boxes: list[float]) -> Invocation:
    body = [{"label": "face", "type": "rectangle", "points": b, "confidence": 0.9} for b in boxes]
    return Invocation("detector", "", {}, size, status=200, body=body)


ASTRONAUT = SAMPLES.parent / "fixtures" / "images" / "astronaut.jpg"
FACE = [176.0, 65.0, 272.0, 161.0]


def test_an_answer_no_single_transform_explains_is_inconclusive() -> None:
    """One face on the frame, one box of another size elsewhere on the mirror image: some
    transform maps any box onto any other, so one pair proves nothing."""
    view = flip_view(ASTRONAUT.read_bytes(), (512, 512))
    verdict = judge_view(view, _answer((512, 512), FACE), _answer((512, 512), [10, 300, 40, 330]))
    assert verdict.outcome == "inconclusive", verdict.reason
    assert "no one transform explains" in verdict.reason


def test_nearly_equivariant_answers_agree() -> None:
    view = scale_view(ASTRONAUT.read_bytes(), (512, 512))
    near = [266.0, 96.0, 405.0, 240.0]  # the face at 1.5x, a few pixels off
    assert judge_view(view, _answer((512, 512), FACE), _answer((768, 768), near)).outcome == (
        "agrees"
    )


def test_kept_coordinates_are_named_with_the_fitted_transform() -> None:
    view = scale_view(ASTRONAUT.read_bytes(), (512, 512))
    verdict = judge_view(view, _answer((512, 512), FACE), _answer((768, 768), FACE))
    assert verdict.outcome == "disagrees"
    assert "at 1.5x they come back at 1x" in verdict.reason
    assert "fitted over 1 of 1 shape(s): x -> x, y -> y; expected: x -> 1.5*x, y -> 1.5*y" in (
        verdict.reason
    )


def test_nothing_on_either_is_inconclusive() -> None:
    view = flip_view(ASTRONAUT.read_bytes(), (512, 512))
    verdict = judge_view(view, _answer((512, 512)), _answer((512, 512)))
    assert verdict.outcome == "inconclusive" and "nothing found on either" in verdict.reason
