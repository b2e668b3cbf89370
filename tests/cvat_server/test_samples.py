"""The seven sample functions through a real CVAT, each served by cvat-fn behind the dashboard
stand-in (Nuclio's dashboard cannot run here; tests/nuclio_dashboard.py stands in for it).

Each test asserts what CVAT listed, answered or stored, in the calls CVAT 2.73's UI and API make
(cvat/apps/lambda_manager/views.py: FunctionViewSet.list/call, RequestViewSet.create,
LambdaJob._call_detector/_call_reid; tracker states signed by LambdaFunction.invoke).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

import tests.cvat_server.requires_source  # noqa: F401  (skips without CVAT_SOURCE)
from harness.cvat.requests import detector_request, interactor_request, tracker_request
from harness.cvat.shapes import MASK_RLE, Shape
from harness.suite.similarity import box_iou
from tests.cvat_server.client import CvatClient, labels_from_spec
from tests.cvat_server.server import CvatServer
from tests.cvat_server.standin import served
from tests.nuclio_dashboard import StandInDashboard

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_functions"
IMAGES = ROOT / "fixtures" / "images"

NUCLIO = ["face_detector", "grabcut_interactor", "template_tracker", "histogram_reid"]
SDK = [
    "sdk_face_detector/haar_faces.py",
    "sdk_grabcut/grabcut.py",
    "sdk_template_tracker/template_matching.py",
]
# function.yaml metadata.name of each: the Nuclio samples' own, cvat-fn's export for the SDK's
DETECTORS = {"face_detector": "opencv-haar-face-detector", "sdk": "cvat-sdk-haar-faces"}
INTERACTORS = {"grabcut_interactor": "opencv-grabcut-interactor", "sdk": "cvat-sdk-grabcut"}
TRACKERS = {"template_tracker": "opencv-template-tracker", "sdk": "cvat-sdk-template-matching"}
REID = "opencv-histogram-reid"


def golden(sample: str) -> list[dict[str, Any]]:
    """The sample's own golden fixtures (sample_functions/*/cvat-fn.yaml)."""
    return list(yaml.safe_load((SAMPLES / sample / "cvat-fn.yaml").read_text())["fixtures"])


@pytest.fixture(scope="module")
def samples(cvat_server: CvatServer) -> Iterator[StandInDashboard]:
    """All seven samples, started once for this module behind one stand-in dashboard."""
    paths = [SAMPLES / name for name in NUCLIO] + [SAMPLES / module for module in SDK]
    with served(paths, cvat_server.namespace) as dashboard:
        yield dashboard


@pytest.fixture(autouse=True)
def _cvat_uses_the_samples(cvat_server: CvatServer, samples: StandInDashboard) -> None:
    cvat_server.use_dashboard(samples.url)


def annotations_spec(samples: StandInDashboard, name: str) -> dict[str, Any]:
    """The function.yaml annotations the stand-in lists for ``name``."""
    return dict(samples.functions[name].config()["metadata"]["annotations"])


def direct(samples: StandInDashboard, name: str, body: dict[str, Any]) -> Any:
    """The function's own answer, asked directly (not through CVAT)."""
    answer = requests.post(str(samples.functions[name].url), json=body, timeout=60)
    answer.raise_for_status()
    return answer.json()


def test_cvat_lists_every_sample_with_its_kind_and_labels(
    cvat: CvatClient, samples: StandInDashboard
) -> None:
    listed = {f["id"]: f for f in cvat.functions()}
    assert set(listed) == set(samples.functions)
    assert len(listed) == 7
    for name, deployed in samples.functions.items():
        annotations = deployed.config()["metadata"]["annotations"]
        function = listed[name]
        assert function["kind"] == annotations["type"], name
        assert function["name"] == annotations["name"], name
        labels = json.loads(annotations.get("spec") or "[]")
        assert [(x["name"], x["type"]) for x in function["labels_v2"]] == [
            (x["name"], x.get("type", "any")) for x in labels
        ], name
    kinds = sorted(f["kind"] for f in listed.values())
    assert kinds == ["detector"] * 2 + ["interactor"] * 2 + ["reid"] + ["tracker"] * 2
    for name in DETECTORS.values():
        assert listed[name]["labels_v2"] == [
            {"name": "face", "type": "rectangle", "attributes": []}
        ]
    for name in TRACKERS.values():
        assert listed[name]["supported_shape_types"] == ["rectangle"]
    grabcut = listed[INTERACTORS["grabcut_interactor"]]
    assert (grabcut["min_pos_points"], grabcut["min_neg_points"]) == (1, 0)
    assert grabcut["startswith_box"] is False


@pytest.mark.parametrize("function", list(DETECTORS.values()))
def test_auto_annotation_stores_the_face_box(
    cvat: CvatClient, samples: StandInDashboard, function: str
) -> None:
    image = IMAGES / "astronaut.jpg"
    spec = annotations_spec(samples, function)["spec"]
    task = cvat.create_task(f"faces {function}", labels_from_spec(spec), [image])
    (face_label,) = cvat.task_labels(task)

    job = cvat.auto_annotate(function, task, threshold=0.5)
    assert (job["status"], job["exc_info"]) == ("finished", None)

    stored = cvat.annotations(task)
    (shape,) = stored["shapes"]
    answered = direct(samples, function, detector_request(image, threshold=0.5))
    faces = [a for a in answered if a["label"] == "face"]
    assert len(faces) == 1
    assert shape["type"] == "rectangle"
    assert shape["label_id"] == face_label["id"]
    assert (shape["frame"], shape["source"]) == (0, "auto")
    assert shape["points"] == pytest.approx(faces[0]["points"])
    (expected,) = golden("face_detector")[0]["expected"]
    assert box_iou(shape["points"], expected["points"]) > 0.5

    # the interactive call (a detector from the UI's AI tools): converted, not stored
    answer = cvat.call(function, task=task, frame=0, threshold=0.5)
    assert answer.status_code == 200, answer.text
    (called,) = answer.json()["shapes"]
    assert called["points"] == pytest.approx(faces[0]["points"])
    assert called["label_id"] == face_label["id"]


@pytest.mark.parametrize("function", list(INTERACTORS.values()))
def test_interactor_answers_the_interactive_call(
    cvat: CvatClient, samples: StandInDashboard, function: str
) -> None:
    case = golden("grabcut_interactor")[1]  # the rocket, with negative points and a box
    image = IMAGES / Path(case["image"]).name
    task = cvat.create_task(f"interact {function}", [{"name": "object", "type": "any"}], [image])
    prompts = {
        "pos_points": case["pos_points"],
        "neg_points": case["neg_points"],
        "obj_bbox": case["obj_bbox"],
    }
    answer = cvat.call(function, task=task, frame=0, **prompts)
    assert answer.status_code == 200, answer.text
    (shape,) = answer.json()["shapes"]
    assert shape["type"] == "mask"
    box = Shape("", "mask", shape["points"], encoding=MASK_RLE).bbox()
    assert box_iou(box, case["expected"][0]["points"]) > 0.5

    mine = direct(samples, function, interactor_request(image, **prompts))
    (own,) = mine["shapes"]
    assert box_iou(box, Shape("", "mask", own["points"], encoding=MASK_RLE).bbox()) > 0.9

    # no box drawn: the UI sends obj_bbox [] (cvat-ui tools-control.tsx), CVAT passes it on
    answer = cvat.call(
        function, task=task, frame=0, pos_points=[[322, 200], [322, 330]],
        neg_points=case["neg_points"], obj_bbox=[],
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    (shape,) = answer.json()["shapes"]
    box = Shape("", "mask", shape["points"], encoding=MASK_RLE).bbox()
    assert box_iou(box, golden("grabcut_interactor")[2]["expected"][0]["points"]) > 0.5


@pytest.mark.parametrize("function", list(TRACKERS.values()))
def test_tracker_states_round_trip_through_cvat(
    cvat: CvatClient, samples: StandInDashboard, function: str
) -> None:
    case = golden("template_tracker")[0]
    frames = [IMAGES / Path(case["image"]).name, IMAGES / Path(case["next_image"]).name]
    task = cvat.create_task(f"track {function}", [{"name": "cat", "type": "rectangle"}], frames)
    shapes = [{"type": "rectangle", "points": box} for box in case["shapes"]]

    # the UI starts tracking on frame 0 with the shapes (cvat-ui: no states yet) ...
    init = cvat.call(function, task=task, frame=0, shapes=shapes)
    assert init.status_code == 200, init.text
    states = init.json()["states"]
    assert len(states) == len(shapes)
    assert all(isinstance(s, str) for s in states)  # signed by CVAT, not the function's JSON

    # ... and goes on at frame 1 with the states alone
    track = cvat.call(function, task=task, frame=1, states=states)
    assert track.status_code == 200, track.text
    tracked = track.json()
    for shape, expected in zip(tracked["shapes"], case["expected"], strict=True):
        assert shape["type"] == "rectangle"
        assert box_iou(shape["points"], expected["points"]) > 0.9
    assert len(tracked["states"]) == len(shapes)

    # what CVAT sent on is the function's own state (unsigned): asked directly with it, the
    # function answers the same boxes
    own_init = direct(samples, function, tracker_request(frames[0], shapes))
    own_track = direct(samples, function, tracker_request(frames[1], None, own_init["states"]))
    for through_cvat, own in zip(tracked["shapes"], own_track["shapes"], strict=True):
        assert through_cvat["points"] == pytest.approx(own["points"])

    # a state CVAT did not sign is refused before the function is called
    forged = [base64.b64encode(b"{}").decode() + ":forged"] * len(states)
    refused = cvat.call(function, task=task, frame=1, states=forged)
    assert refused.status_code == 400
    assert "Invalid or expired tracker state" in refused.text


def test_reid_joins_boxes_into_tracks(cvat: CvatClient, samples: StandInDashboard) -> None:
    (case,) = golden("histogram_reid")
    frames = [IMAGES / Path(case["image"]).name, IMAGES / Path(case["image1"]).name]
    task = cvat.create_task("reid", [{"name": "object", "type": "rectangle"}], frames)
    (label,) = cvat.task_labels(task)
    boxes = [case["boxes0"], case["boxes1"]]
    cvat.put_annotations(task, {
        "shapes": [
            {"type": "rectangle", "frame": frame, "label_id": label["id"], "points": box,
             "occluded": False, "z_order": 0, "attributes": []}
            for frame, frame_boxes in enumerate(boxes) for box in frame_boxes
        ]
    })  # fmt: skip

    job = cvat.auto_annotate(REID, task, threshold=case["threshold"], max_distance=50)
    assert (job["status"], job["exc_info"]) == ("finished", None)

    stored = cvat.annotations(task)
    assert stored["shapes"] == []  # every box now belongs to a track
    paths = sorted(
        [(s["frame"], [round(p) for p in s["points"]], s["outside"]) for s in track["shapes"]]
        for track in stored["tracks"]
    )
    expected = []
    for i0, i1 in enumerate(case["expected_matches"]):
        if i1 >= 0:  # matched: one track over both frames
            expected.append([(0, boxes[0][i0], False), (1, boxes[1][i1], False)])
        else:  # left: CVAT closes its track with an outside copy on the next frame
            expected.append([(0, boxes[0][i0], False), (1, boxes[0][i0], True)])
    for i1, box in enumerate(boxes[1]):
        if i1 not in case["expected_matches"]:  # arrived: a track of its own from frame 1
            expected.append([(1, box, False)])
    assert paths == sorted(expected)
