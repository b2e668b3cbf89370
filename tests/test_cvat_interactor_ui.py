"""What the user sees in CVAT 2.73's UI for each interactor answer the judge takes.

CVAT's server passes an interactor's answer through, so the verdict is the UI's. Each test
cites the code it follows, read at cvat-ai/cvat just after v2.73.0 (cvat-ui/package.json
2.73.1): v2.73.0's own commit (ac6e63b9) is not stored for the search tool, so the files were
read as merged into a fork at 061b6c5b (its changes are translated messages). Where v2.64.0
(upstream 1ad82140, "Update develop after v2.64.0") differs, the test says so. Files:

- cvat-core/src/lambda-manager.ts ``call`` (the answer, rewritten);
- cvat-ui/.../controls-side-bar/tools-control.tsx ``runInteractionRequest`` (each mask:
  ``Int32Array.from``, ``receiveContoursFromMask``, the confidence), ``drawIntermediateShapes
  OnCanvas`` ("No shapes to display"), ``constructFromLatestResponse`` (the object created);
- cvat-ui/src/utils/opencv-wrapper/opencv-wrapper.ts ``getContoursFromStateSync``;
- cvat-core/src/rle-utils.ts ``mask2Rle``, ``rle2Mask``; opencv's modules/js/src/helpers.js
  ``matFromArray`` (``mat.data.set(array)``);
- cvat-core/src/annotations-collection.ts ``put`` and object-utils.ts ``cropMask``.

Any throw on the way ends in tools-control.tsx's ``catch``: the notification "Interaction
error occurred" and nothing of that answer drawn: an error. Nothing drawn without a word, or a
mask drawn other than sent: a loss. Nothing to show by the answer's own choice, or something
odd: a warning.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.cvat import validate
from harness.cvat.findings import Finding, failing
from tests.cvat_server.corpus import INTERACTOR, frame
from tests.test_one_judge import FUNCTIONS, run_invoke

IMAGE = (320, 240)
BOX = [10, 10, 11, 12]  # 2 wide, 3 high: 6 pixels
VISIBLE = [2, 3, 1, *BOX]  # runs 0,0 | 1,1,1 | 0


def judged(body: Any, version: str = "2.73") -> list[tuple[str, str, str]]:
    found = validate("interactor", body, image_size=IMAGE, cvat_version=version)
    return [(f.severity, f.code, f.where) for f in found]


def mask(points: Any, **extra: Any) -> dict[str, Any]:
    return {"shapes": [{"type": "mask", "points": points, **extra}]}


def only(body: Any) -> Finding:
    found = validate("interactor", body, image_size=IMAGE)
    assert len(found) == 1, found
    return found[0]


def test_a_mask_with_runs_but_no_pixel_set_fails_in_the_ui() -> None:
    """opencv-wrapper.ts getContoursFromStateSync: findContours finds nothing in an all-zero
    box and it throws "Empty contour received from state"; tools-control.tsx
    runInteractionRequest catches it: "Interaction error occurred", nothing drawn."""
    for counts in ([6, 0], [2, 0, 4], [0, 0, 6, 0]):
        assert judged(mask([*counts, *BOX])) == [
            ("error", "interactor.empty-contour", "shapes[0].points")
        ], counts
    assert "Empty contour received from state" in only(mask([6, 0, *BOX])).message


def test_an_empty_mask_in_one_run_shows_nothing() -> None:
    """tools-control.tsx receiveContoursFromMask: fewer than 6 numbers ("minimal non-empty
    RLE is 6 points") give no contour, and runInteractionRequest leaves the shape out before
    anything can throw; drawIntermediateShapesOnCanvas then shows "No shapes to display".
    cvat-sdk's encode_mask writes an all-zero bitmap as one run: a correct function's empty
    mask is a warning, never a failure."""
    for points in ([6, *BOX], BOX):
        assert judged(mask(points)) == [("warning", "interactor.nothing-shown", "shapes[0].points")]
    masks = pytest.importorskip("cvat_sdk.masks")
    numpy = pytest.importorskip("numpy")
    empty = masks.encode_mask(numpy.zeros((240, 320), bool), [10, 10, 12, 13])
    assert failing(validate("interactor", mask(empty), image_size=IMAGE)) == []


def test_run_lengths_past_the_box_fail_in_the_ui() -> None:
    """rle-utils.ts rle2Mask writes every run, growing its array past width * height;
    opencv-wrapper.ts getContoursFromStateSync hands it to cv.matFromArray, whose
    mat.data.set(array) throws a RangeError for a source longer than the box."""
    assert judged(mask([2, 3, 9, *BOX])) == [("error", "mask.geometry", "shapes[0].points")]
    assert "more than the 2x3 = 6 of the box" in only(mask([2, 3, 9, *BOX])).message


def test_run_lengths_short_of_the_box_leave_the_rest_empty() -> None:
    """rle-utils.ts rle2Mask starts from Array(width * height).fill(0): the pixels the runs do
    not reach stay empty, and the mask is drawn as sent."""
    assert judged(mask([2, 3, *BOX])) == [("warning", "mask.geometry", "shapes[0].points")]
    assert "cover 5 of the box's 2x3 = 6 pixels" in only(mask([2, 3, *BOX])).message


def test_a_bitmap_sent_as_run_lengths_is_drawn_wrong() -> None:
    """rle2Mask reads each number as a run length (the first counting empty pixels), so a
    0/1 bitmap of the box decodes into other pixels, silently."""
    assert judged(mask([0, 1, 1, 1, 0, 0, *BOX])) == [
        ("loss", "mask.geometry", "shapes[0].points")
    ]


def test_a_box_that_ends_before_it_starts_fails_in_the_ui() -> None:
    """getContoursFromStateSync: width = right - left + 1; rle2Mask's Array(width * height)
    throws a RangeError for a negative length, and cv.Mat refuses negative sizes."""
    assert judged(mask([2, 3, 1, 11, 10, 10, 12])) == [
        ("error", "mask.geometry", "shapes[0].points")
    ]


def test_points_are_read_as_32_bit_integers() -> None:
    """tools-control.tsx runInteractionRequest: Int32Array.from(item.points) cuts fractions
    towards zero, reads a string as Number() of it (0 where it is none) and wraps 2**31."""
    for points, where, read in (
        ([2.7, 3, 1, *BOX], "[0]", "as 2"),
        (["2", 3, "x", *BOX], "[2]", "as 0"),
        ([2, 3, 1, 10, 10, 11, 2**32 + 12], "[6]", "as 12"),
    ):
        found = validate("interactor", mask(points), image_size=IMAGE)
        assert (found[0].severity, found[0].where) == ("loss", f"shapes[0].points{where}")
        assert f"read by CVAT's UI {read}" in found[0].message


def test_a_negative_run_is_skipped_but_still_switches() -> None:
    """rle2Mask: ``while (count > 0)`` writes nothing for a negative run, yet the value
    switches between empty and set after it."""
    assert judged(mask([-1, 3, 1, *BOX])) == [("loss", "mask.geometry", "shapes[0].points")]


def test_fewer_than_four_numbers_are_left_out_without_a_word() -> None:
    """receiveContoursFromMask: ``mask.length < 6`` gives no contour, so a malformed mask is
    left out as silently as an empty one; only a box alone or one run is an empty mask."""
    for points in ([], [1], [0, 0, 1]):
        assert judged(mask(points)) == [("loss", "mask.geometry", "shapes[0].points")], points


def test_points_that_are_not_a_list() -> None:
    """Int32Array.from(undefined or null) throws ("Interaction error occurred"); a number or
    an object is an array-like of length 0 and the shape is left out without a word."""
    assert judged({"shapes": [{"type": "mask"}]}) == [
        ("error", "interactor.schema", "shapes[0].points")
    ]
    assert judged(mask(None)) == [("error", "interactor.schema", "shapes[0].points")]
    for points in (5, {"counts": [1]}, True):
        assert judged(mask(points)) == [("loss", "mask.geometry", "shapes[0].points")], points


def test_a_mask_off_the_image_becomes_an_empty_object() -> None:
    """annotations-collection.ts put: a mask object is cropped to the frame when it is
    created (object-utils.ts cropMask), and to [0, 0, 0, 0, 0] when no set pixel is on the
    image; the mask is drawn where it is sent until then."""
    off = only(mask([2, 3, 1, 400, 10, 401, 12]))
    assert (off.severity, off.code) == ("warning", "coord.outside")
    assert "cropped to nothing" in off.message
    # a 4x2 box over the image's right edge (x 318..321 of 320): set pixels on it, or only
    # in the two columns off it
    edge = only(mask([0, 2, 2, 2, 2, 318, 10, 321, 11]))
    assert "crops the object to the image" in edge.message
    assert "cropped to nothing" in only(mask([2, 2, 2, 2, 318, 10, 321, 11])).message


def test_shapes_as_a_string_show_nothing_since_2_73() -> None:
    """tools-control.tsx runInteractionRequest: ``for (const item of response.shapes)`` walks
    a string's characters and ``item.type !== ShapeType.MASK`` skips each. In v2.64.0
    lambda-manager.ts kept non-arrays as they were and tools-control.tsx read item.points of
    each character: receivePointsFromMask threw on undefined.length."""
    assert judged({"shapes": "mask"}) == [("loss", "interactor.schema", "shapes")]
    assert judged({"shapes": "mask"}, "2.64") == [("error", "interactor.schema", "shapes")]
    for shapes in ({"type": "mask"}, None, 3):  # not iterable: for...of throws
        assert judged({"shapes": shapes}) == [("error", "interactor.schema", "shapes")]


def test_answers_without_shapes_to_walk_fail_in_the_ui() -> None:
    """lambda-manager.ts call hands an answer with neither "mask" nor an array "shapes" to
    the UI as it is (``'mask' in null`` throws first); tools-control.tsx then iterates
    response.shapes, undefined for a list, a string or an object without it."""
    for body in (None, [[1, 2], [3, 4], [5, 6]], {"polygon": []}, 7):
        assert [f[0] for f in judged(body)] == ["error"], body


def test_no_mask_shapes_show_nothing() -> None:
    """runInteractionRequest keeps only type "mask" (a missing type is one: lambda-manager.ts
    ``item.type ?? ShapeType.MASK``); drawIntermediateShapesOnCanvas shows "No shapes to
    display" when none is left."""
    assert judged({"shapes": []}) == [("warning", "interactor.nothing-shown", "shapes")]
    assert judged({"shapes": [{"type": "polygon", "points": [1, 1, 5, 1, 3, 4]}]}) == [
        ("loss", "interactor.schema", "shapes[0].type"),
        ("warning", "interactor.nothing-shown", "shapes"),
    ]
    assert judged({"shapes": [{"points": VISIBLE}]}) == []


def test_a_confidence_that_is_no_number_hides_the_mask_for_good() -> None:
    """runInteractionRequest: confidence = +value of the attribute with spec_id === 0;
    drawIntermediateShapesOnCanvas and constructFromLatestResponse keep ``confidence >=
    thresholdValue``, never true for NaN."""
    body = mask(VISIBLE, attributes=[{"spec_id": 0, "value": "high"}])
    assert judged(body) == [("loss", "interactor.confidence", "shapes[0].attributes")]
    for value in ("0.93", " 1 ", "0.5", "1e0"):
        assert judged(mask(VISIBLE, attributes=[{"spec_id": 0, "value": value}])) == [], value


def test_a_low_confidence_hides_the_mask_until_the_slider_moves() -> None:
    """tools-control.tsx: thresholdValue starts at 0.5, and the confidence slider appears
    once a mask carries a confidence; "" reads as 0."""
    for value in ("0.2", ""):
        body = mask(VISIBLE, attributes=[{"spec_id": 0, "value": value}])
        assert judged(body) == [("warning", "interactor.confidence", "shapes[0].attributes")]


def test_attributes_besides_a_confidence_are_not_read() -> None:
    """constructFromLatestResponse creates the object from frame, label, source, occluded and
    zOrder: of an interactor's attributes only the confidence is read; lambda-manager.ts gives
    a shape [] for attributes not all {spec_id: number, value: string}."""
    body = mask(VISIBLE, attributes=[{"spec_id": 0, "value": "0.9"}, {"spec_id": 3, "value": "x"}])
    assert judged(body) == [("warning", "interactor.attributes", "shapes[0].attributes")]
    body = mask(VISIBLE, attributes=[{"name": "score", "value": "0.9"}])
    assert judged(body) == [("warning", "interactor.attributes", "shapes[0].attributes")]


def test_an_all_zero_older_mask_shows_nothing() -> None:
    """lambda-manager.ts call: mask2Rle of an all-zero mask is one run, replaced by
    [0, 0, 0, 0, 0], which receiveContoursFromMask leaves out; so is [[]]."""
    for rows in ([[0, 0], [0, 0]], [[False, False]], [[]]):
        assert judged({"mask": rows}) == [
            ("warning", "interactor.nothing-shown", "mask"),
            ("warning", "interactor.schema", "response"),
        ], rows


def test_an_older_mask_works_with_zero_and_one_value_above_it() -> None:
    """rle-utils.ts mask2Rle: the first run counts values that are not > 0, and a new run
    starts wherever a value is not === the one before: 0/255 and booleans work, a third
    value switches runs where none was meant."""
    for rows in ([[0, 1], [1, 1]], [[0, 255], [255, 255]], [[False, True], [True, True]]):
        assert judged({"mask": rows}) == [("warning", "interactor.schema", "response")], rows
    assert judged({"mask": [[0, 1], [2, 1]]})[0] == ("loss", "mask.geometry", "mask")


def test_older_mask_rows_the_ui_cuts_differently() -> None:
    """lambda-manager.ts call: the box is [0, 0, rows[0].length - 1, rows.length - 1] and the
    runs are those of rows.flat(): ragged rows are cut into rows of the first row's length,
    and more pixels than that box fail in cv.matFromArray."""
    assert judged({"mask": [[0, 1], [1]]})[0] == ("loss", "mask.geometry", "mask")
    assert ("error", "mask.geometry", "mask") in judged({"mask": [[0, 1], [1, 1, 1]]})
    assert judged({"mask": [[0, 1], 1]})[0] == ("loss", "mask.geometry", "mask[1]")


def test_an_older_mask_the_ui_cannot_read_fails() -> None:
    """lambda-manager.ts call reads result.mask.length, result.mask[0].length and
    result.mask.flat(): each throws for null, [], [null], a string or a number."""
    for rows in (None, [], [None], "1010", 5, {"0": [1]}):
        assert ("error", "interactor.schema", "mask") in judged({"mask": rows}), rows


def test_an_older_mask_larger_than_the_frame_is_cropped_not_refused() -> None:
    """The older answer is placed at (0, 0) and drawn as it is; annotations-collection.ts
    put crops it to the frame (cropMask) when the object is created."""
    found = judged({"mask": [[1] * 400] * 2})
    assert found == [
        ("warning", "coord.outside", "mask"),
        ("warning", "interactor.schema", "response"),
    ]
    # before PR #10329 (2.60) the UI placed it itself and the judge refused it
    assert ("error", "coord.outside", "mask") in judged({"mask": [[1] * 400] * 2}, "2.50")


@pytest.mark.parametrize(
    "name", ["rle-empty-runs", "rle-over-box", "rle-one-empty-run", "shapes-string"]
)
def test_invoke_shows_what_the_ui_does_with_a_corpus_answer(name: str, tmp_path: Path) -> None:
    """The same verdicts through ``cvat-fn invoke`` of a real function
    (tests/functions/corpus_interactor answers corpus entry i for frame i)."""
    index = next(i for i, answer in enumerate(INTERACTOR) if answer.name == name)
    path = tmp_path / f"{name}.png"
    path.write_bytes(frame(index))
    done = run_invoke(
        path, "--function", FUNCTIONS / "corpus_interactor", "--pos-points", "30,30", "--json"
    )
    [request] = json.loads(done.stdout)["requests"]
    assert {f"{f['severity']} {f['code']}" for f in request["findings"]} == INTERACTOR[index].expect
    assert done.returncode == (1 if failing(_findings(request)) else 0), done.stderr


def _findings(request: dict[str, Any]) -> list[Finding]:
    return [
        Finding(f["severity"], f["where"], f["message"], f["cvat_version"], f["code"])
        for f in request["findings"]
    ]
