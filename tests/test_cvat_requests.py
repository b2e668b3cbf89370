"""Request bodies as CVAT's lambda manager builds them (cvat-ai/cvat
cvat/apps/lambda_manager/views.py, LambdaFunction.invoke)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from PIL import Image

from harness.cvat.requests import (
    KINDS,
    build_request,
    detector_request,
    encode_image,
    interactor_request,
    reid_box,
    reid_request,
    tracker_request,
    tracker_shape,
)


@pytest.fixture()
def png(tmp_path: Path) -> Path:
    path = tmp_path / "frame.png"
    Image.new("RGB", (8, 6), (10, 200, 30)).save(path)
    return path


def test_encode_image_is_base64_of_the_file_bytes(png: Path) -> None:
    data = png.read_bytes()
    assert base64.b64decode(encode_image(png)) == data
    assert encode_image(data) == encode_image(png) == encode_image(str(png))
    # The file, not decoded pixels: a PNG signature comes back.
    assert base64.b64decode(encode_image(png)).startswith(b"\x89PNG")


def test_encode_image_refuses_other_types() -> None:
    with pytest.raises(TypeError, match="file bytes or a path"):
        encode_image(123)  # type: ignore[arg-type]


@pytest.mark.parametrize("threshold", [None, 0, 0.0])
def test_detector_threshold_not_sent_when_falsy(png: Path, threshold: float | None) -> None:
    body = detector_request(png, threshold=threshold)
    assert set(body) == {"image"}


def test_detector_threshold_sent_when_truthy(png: Path) -> None:
    body = detector_request(png, threshold=0.5)
    assert body == {"threshold": 0.5, "image": encode_image(png)}


def test_interactor_request_has_all_keys_and_empty_bbox(png: Path) -> None:
    # cvat-ui tools-control.tsx onInteraction: obj_bbox is convertShapesForInteractor(shapes,
    # 'rectangle', 'positive'), [] when no box is drawn; views.py invoke passes it on.
    body = interactor_request(png, [[1, 2], [3, 4]])
    assert body == {
        "image": encode_image(png),
        "pos_points": [[1, 2], [3, 4]],
        "neg_points": [],
        "obj_bbox": [],
    }
    assert interactor_request(png, [[1, 2]], obj_bbox=[])["obj_bbox"] == []


def test_interactor_request_bbox_null_before_2_16(png: Path) -> None:
    # views.py invoke before cvat-ai/cvat PR #8270 (v2.16.3): "obj_bbox": None unless
    # startswith_box.
    body = interactor_request(png, [[1, 2]], cvat_version="2.15")
    assert json.loads(json.dumps(body))["obj_bbox"] is None
    assert interactor_request(png, [[1, 2]], cvat_version="2.16")["obj_bbox"] == []


def test_interactor_request_pairs_flat_points_and_bbox(png: Path) -> None:
    body = interactor_request(png, [1, 2], neg_points=[5, 6, 7, 8], obj_bbox=[0, 0, 4, 3])
    assert body["pos_points"] == [[1, 2]]
    assert body["neg_points"] == [[5, 6], [7, 8]]
    assert body["obj_bbox"] == [[0, 0], [4, 3]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pos_points": [1, 2, 3]}, "even length"),
        ({"pos_points": [[1, 2, 3]]}, "not an \\[x, y\\] point"),
        ({"pos_points": [["a", 2]]}, "not a number"),
        ({"pos_points": [[1, 2]], "obj_bbox": [1, 2]}, "two corners"),
    ],
)
def test_interactor_request_rejects_bad_points(png: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        interactor_request(png, **kwargs)


def test_tracker_start_sends_shapes_and_no_states(png: Path) -> None:
    body = tracker_request(png, [[1, 2, 30, 40]], [])
    assert body == {"image": encode_image(png), "shapes": [[1, 2, 30, 40]], "states": []}


def test_tracker_continue_sends_a_null_shape_per_state(png: Path) -> None:
    # Since cvat-ai/cvat PR #9548 the UI sends only states; the server pads shapes with nulls.
    body = tracker_request(png, None, [{"s": 1}, {"s": 2}])
    assert body["shapes"] == [None, None]
    assert body["states"] == [{"s": 1}, {"s": 2}]


def test_tracker_typed_shapes_pass_through(png: Path) -> None:
    shape = tracker_shape("polygon", [1, 1, 5, 1, 5, 5])
    assert shape == {"type": "polygon", "points": [1, 1, 5, 1, 5, 5]}
    body = tracker_request(png, [shape])
    assert body["shapes"] == [shape]
    assert body["shapes"][0] is not shape  # copied, the caller's dict is not shared


def test_tracker_rejects_shape_state_mismatch(png: Path) -> None:
    with pytest.raises(ValueError, match="2 shapes for 1 states"):
        tracker_request(png, [[1, 2, 3, 4], [5, 6, 7, 8]], [{}])


def test_reid_request_wraps_boxes_as_cvat_shapes(png: Path) -> None:
    body = reid_request(png, png, [[1, 2, 3, 4]], [[5, 6, 7, 8], [0, 0, 1, 1]])
    assert set(body) == {"image0", "image1", "boxes0", "boxes1"}
    assert body["boxes0"][0]["points"] == [1, 2, 3, 4]
    assert body["boxes0"][0]["type"] == "rectangle"
    assert body["boxes0"][0]["frame"] == 0
    assert [b["frame"] for b in body["boxes1"]] == [1, 1]
    assert len(body["boxes1"]) == 2


def test_reid_request_passes_shape_dicts_through(png: Path) -> None:
    box = reid_box([1, 2, 3, 4], frame=7, label_id=3)
    body = reid_request(png, png, [box], [box])
    assert body["boxes0"] == [box]


def test_reid_threshold_and_max_distance_only_when_truthy(png: Path) -> None:
    assert "threshold" not in reid_request(png, png, [], [], threshold=0)
    assert "max_distance" not in reid_request(png, png, [], [], max_distance=None)
    body = reid_request(png, png, [], [], threshold=0.4, max_distance=50)
    assert body["threshold"] == 0.4
    assert body["max_distance"] == 50


def test_reid_box_needs_four_numbers() -> None:
    with pytest.raises(ValueError, match="got 3 numbers"):
        reid_box([1, 2, 3])


def test_build_request_dispatches_on_kind(png: Path) -> None:
    assert build_request("detector", image=png, threshold=0.3) == detector_request(png, 0.3)
    assert build_request("interactor", image=png, pos_points=[[1, 1]])["pos_points"] == [[1, 1]]
    assert build_request("tracker", image=png, shapes=[[1, 1, 2, 2]])["states"] == []
    assert build_request("reid", image0=png, image1=png, boxes0=[], boxes1=[])["boxes0"] == []


def test_build_request_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown function kind 'segmenter'.*detector, interactor"):
        build_request("segmenter", image=b"")


def test_every_request_is_json(png: Path) -> None:
    bodies = [
        build_request("detector", image=png, threshold=0.5),
        build_request("interactor", image=png, pos_points=[[1, 1]], obj_bbox=[0, 0, 2, 2]),
        build_request("tracker", image=png, shapes=[tracker_shape("rectangle", [0, 0, 2, 2])]),
        build_request("reid", image0=png, image1=png, boxes0=[[0, 0, 1, 1]], boxes1=[]),
    ]
    assert KINDS == ("detector", "interactor", "tracker", "reid")
    for body in bodies:
        assert json.loads(json.dumps(body)) == body
