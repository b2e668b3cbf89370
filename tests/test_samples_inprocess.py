"""The sample functions, called in this process the way Nuclio's wrapper calls them.

Each sample's main.py is imported from its directory (which goes on sys.path, as
/opt/nuclio does in a container), given a real nuclio_sdk Context through
init_context, and sent real nuclio_sdk Events whose bodies are built as CVAT builds
them (the frame file, base64). Answers are checked against the CVAT contract and
against the golden expectations in each sample's cvat-fn.yaml.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import logging
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import nuclio_sdk
import numpy as np
import pytest
import yaml
from PIL import Image

from harness.nuclio.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_functions"
KINDS = {
    "face_detector": "detector",
    "grabcut_interactor": "interactor",
    "template_tracker": "tracker",
    "histogram_reid": "reid",
}
# The modules every sample imports by the same name (model_weights reads the weights/ beside
# the sample that imported it first).
SHARED = ("model_handler", "model_weights")


class Sample:
    """One sample function loaded like a Nuclio worker loads it: import, then init_context."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.directory = SAMPLES / name
        self.module = import_main(self.directory)
        self.context = new_context(self.module)
        self.config = yaml.safe_load((self.directory / "cvat-fn.yaml").read_text())

    def call(self, body: dict[str, Any], context: nuclio_sdk.Context | None = None) -> Any:
        """The handler's answer to a JSON request, decoded as CVAT would decode it."""
        event = nuclio_sdk.Event(body=body, content_type="application/json")
        response = self.module.handler(context or self.context, event)
        assert isinstance(response, nuclio_sdk.Response), (
            f"{self.name} returned {type(response).__name__}: return context.Response(...)"
            " with a JSON string body, as a bare list is taken as a Nuclio batch"
        )
        assert response.status_code == 200, response.body
        assert response.content_type == "application/json"
        assert isinstance(response.body, str), "the body must be a JSON string"
        return json.loads(response.body)

    def fixtures(self) -> list[dict[str, Any]]:
        return list(self.config["fixtures"])

    def path(self, relative: str) -> Path:
        return (self.directory / relative).resolve()

    @property
    def min_iou(self) -> float:
        return float(self.config.get("minimums", {}).get("iou", 0.5))


def import_main(directory: Path) -> ModuleType:
    """Import directory/main.py with directory on sys.path, isolated from other samples."""
    for shared in ("main", *SHARED):
        sys.modules.pop(shared, None)
    sys.path.insert(0, str(directory))
    try:
        spec = importlib.util.spec_from_file_location(
            f"sample_{directory.name}", directory / "main.py"
        )
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(directory))
        # Every sample names its helpers alike; main keeps its own references.
        for shared in SHARED:
            sys.modules.pop(shared, None)
    return module


def new_context(module: ModuleType) -> nuclio_sdk.Context:
    context = nuclio_sdk.Context(logger=nuclio_sdk.Logger(logging.DEBUG, name="cvat-fn-samples"))
    module.init_context(context)
    return context


def b64_file(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def b64_image(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_boxes(found: list[list[float]], expected: list[list[float]], min_iou: float):
    """Greedy one-to-one matching by IoU: (matched pairs, unmatched found, unmatched expected)."""
    pairs = sorted(
        ((iou(f, e), i, j) for i, f in enumerate(found) for j, e in enumerate(expected)),
        reverse=True,
    )
    used_f: set[int] = set()
    used_e: set[int] = set()
    matched = []
    for score, i, j in pairs:
        if score >= min_iou and i not in used_f and j not in used_e:
            used_f.add(i)
            used_e.add(j)
            matched.append((i, j, score))
    return matched, set(range(len(found))) - used_f, set(range(len(expected))) - used_e


def rle_decode(rle: list[int], width: int, height: int) -> np.ndarray:
    """CVAT's rle2Mask: alternating runs, zeros first, row-major over the box."""
    flat = np.repeat(np.arange(len(rle)) % 2, rle).astype(np.uint8)
    assert flat.size == width * height, f"runs cover {flat.size} pixels, box has {width * height}"
    return flat.reshape(height, width)


@pytest.fixture(scope="module")
def detector() -> Sample:
    return Sample("face_detector")


@pytest.fixture(scope="module")
def interactor() -> Sample:
    return Sample("grabcut_interactor")


@pytest.fixture(scope="module")
def tracker() -> Sample:
    return Sample("template_tracker")


@pytest.fixture(scope="module")
def reid() -> Sample:
    return Sample("histogram_reid")


def fixture_ids(name: str) -> list[str]:
    config = yaml.safe_load((SAMPLES / name / "cvat-fn.yaml").read_text())
    return [str(fx.get("name") or Path(fx["image"]).stem) for fx in config["fixtures"]]


# --- function.yaml -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(KINDS))
def test_function_yaml_is_cvat_shaped(name: str) -> None:
    spec = load_spec(SAMPLES / name)
    assert spec.kind == KINDS[name]
    raw_spec = spec.annotations["spec"]
    labels = json.loads(raw_spec)  # CVAT's json.loads of the annotation must succeed
    assert isinstance(labels, list)
    assert len({label["name"] for label in labels}) == len(labels)
    assert spec.handler == "main:handler"
    assert spec.runtime == "python:3.10"
    assert spec.event_timeout == 30
    assert spec.num_workers == 2
    assert spec.max_request_body_size == 32 * 1024 * 1024
    assert spec.build.base_image == "ubuntu:22.04"
    assert any(d.kind == "WORKDIR" and d.value == "/opt/nuclio" for d in spec.build.pre_copy)
    # CVAT reads booleans with bool() of a string: a written "false" would mean True.
    assert all(value.lower() != "false" for value in spec.annotations.values())


# --- detector ----------------------------------------------------------------


@pytest.mark.parametrize("index", range(3), ids=fixture_ids("face_detector"))
def test_detector_finds_the_golden_faces(detector: Sample, index: int) -> None:
    fixture = detector.fixtures()[index]
    path = detector.path(fixture["image"])
    width, height = Image.open(path).size
    body: dict[str, Any] = {"image": b64_file(path)}
    if fixture.get("threshold"):
        body["threshold"] = fixture["threshold"]
    results = detector.call(body)

    assert isinstance(results, list)
    for item in results:
        assert item["label"] == "face"
        assert item["type"] == "rectangle"
        x1, y1, x2, y2 = item["points"]
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        assert isinstance(item["confidence"], float) and 0.0 <= item["confidence"] <= 1.0
    found = [item["points"] for item in results]
    expected = [e["points"] for e in fixture["expected"]]
    _, extra, missed = match_boxes(found, expected, detector.min_iou)
    assert not extra, f"false positives {[found[i] for i in extra]}"
    assert not missed, f"missed {[expected[j] for j in missed]}"


def test_detector_threshold_gives_subsets(detector: Sample) -> None:
    # Upscaled, the astronaut shows the cascade's weaker candidates next to the face.
    image = Image.open(ROOT / "fixtures/images/astronaut.jpg").resize((1024, 1024))
    encoded = b64_image(image, "JPEG")
    previous: list[list[float]] | None = None
    counts = []
    for threshold in (0.01, 0.2, 0.5, 0.8, 0.99):
        results = detector.call({"image": encoded, "threshold": threshold})
        assert all(item["confidence"] >= threshold for item in results)
        boxes = [item["points"] for item in results]
        if previous is not None:
            assert all(box in previous for box in boxes), f"threshold {threshold} added boxes"
        previous = boxes
        counts.append(len(boxes))
    assert counts[0] > counts[-1], f"threshold had no effect: {counts}"


def test_detector_without_threshold_uses_its_default(detector: Sample) -> None:
    # CVAT leaves threshold out when it is falsy (0 or not set).
    path = ROOT / "fixtures/images/astronaut.jpg"
    without = detector.call({"image": b64_file(path)})
    default = detector.call({"image": b64_file(path), "threshold": 0.5})
    assert without == default and len(without) == 1


@pytest.mark.parametrize(
    "image",
    [
        Image.new("L", (64, 48), 90),
        Image.new("RGBA", (80, 60), (10, 200, 30, 120)),
        Image.new("P", (40, 40)),
        Image.new("1", (33, 17)),
        Image.new("RGB", (1, 1)),
        Image.new("RGB", (1, 4000)),
        Image.open(ROOT / "fixtures/images/astronaut.jpg").convert("LA"),
    ],
    ids=["grey", "rgba", "palette", "bilevel", "1x1", "1x4000", "grey-alpha"],
)
def test_detector_survives_odd_frames(detector: Sample, image: Image.Image) -> None:
    assert isinstance(detector.call({"image": b64_image(image), "threshold": 0.5}), list)


def test_detector_large_frame_well_under_a_second(detector: Sample) -> None:
    image = Image.open(ROOT / "fixtures/images/astronaut.jpg").resize((3000, 2000))
    body = {"image": b64_image(image, "JPEG"), "threshold": 0.5}
    detector.call(body)
    durations = []
    for _ in range(3):
        start = time.perf_counter()
        detector.call(body)
        durations.append(time.perf_counter() - start)
    assert sorted(durations)[1] < 1.0, durations


# --- interactor --------------------------------------------------------------


def interactor_body(sample: Sample, fixture: dict[str, Any]) -> dict[str, Any]:
    return {
        "image": b64_file(sample.path(fixture["image"])),
        "pos_points": fixture.get("pos_points", []),
        "neg_points": fixture.get("neg_points", []),
        # cvat-ui tools-control.tsx onInteraction sends [] when no box is drawn
        "obj_bbox": fixture.get("obj_bbox", []),
    }


def decode_mask_shape(shape: dict[str, Any], width: int, height: int):
    """(mask, [xtl, ytl, xbr, ybr]) of a CVAT mask shape; checks the box is tight."""
    assert shape["type"] == "mask"
    points = shape["points"]
    assert all(isinstance(v, int) and v >= 0 for v in points)
    xtl, ytl, xbr, ybr = points[-4:]
    assert 0 <= xtl <= xbr < width and 0 <= ytl <= ybr < height
    mask = rle_decode(points[:-4], xbr - xtl + 1, ybr - ytl + 1)
    assert mask[0].any() and mask[-1].any() and mask[:, 0].any() and mask[:, -1].any()
    return mask, [xtl, ytl, xbr, ybr]


@pytest.mark.parametrize("index", range(3), ids=fixture_ids("grabcut_interactor"))
def test_interactor_masks_the_clicked_object(interactor: Sample, index: int) -> None:
    fixture = interactor.fixtures()[index]
    width, height = Image.open(interactor.path(fixture["image"])).size
    answer = interactor.call(interactor_body(interactor, fixture))

    assert set(answer) == {"shapes"} and len(answer["shapes"]) == 1
    mask, box = decode_mask_shape(answer["shapes"][0], width, height)
    for x, y in fixture.get("pos_points", []):
        assert mask[round(y) - box[1], round(x) - box[0]] == 1, f"({x}, {y}) not in the mask"
    for x, y in fixture.get("neg_points", []):
        inside = box[0] <= x <= box[2] and box[1] <= y <= box[3]
        assert not inside or mask[round(y) - box[1], round(x) - box[0]] == 0
    expected = fixture["expected"][0]["points"]
    # Inclusive pixel boxes: compare their pixel extents.
    assert (
        iou(
            [box[0], box[1], box[2] + 1, box[3] + 1],
            [expected[0], expected[1], expected[2] + 1, expected[3] + 1],
        )
        >= interactor.min_iou
    )


def test_interactor_rle_follows_cvat(interactor: Sample) -> None:
    # The examples next to cvat-core's mask2Rle: runs start with zeros.
    sys.path.insert(0, str(interactor.directory))
    try:
        handler_module = importlib.import_module("model_handler")
    finally:
        sys.path.remove(str(interactor.directory))
        for shared in SHARED:
            sys.modules.pop(shared, None)
    assert handler_module.mask_to_rle(np.array([0, 0, 0, 1])) == [3, 1]
    assert handler_module.mask_to_rle(np.array([1, 1, 0, 0])) == [0, 2, 2]
    grid = np.array([[0, 1, 1], [1, 0, 0]])
    assert rle_decode(handler_module.mask_to_rle(grid), 3, 2).tolist() == grid.tolist()


@pytest.mark.parametrize(
    "body",
    [
        {"pos_points": [[0, 0]], "neg_points": []},
        {"pos_points": [[5000, -20]], "neg_points": [[1, 1]]},
        {"pos_points": [], "neg_points": [], "obj_bbox": [[10, 10], [40, 30]]},
        {"pos_points": [], "neg_points": []},
        {"pos_points": [[5, 5]], "neg_points": [], "obj_bbox": []},
    ],
    ids=["corner", "outside", "box-only", "no-clicks", "ui-no-box"],
)
@pytest.mark.parametrize("size", [(1, 1), (50, 40), (2000, 1500)], ids=["1x1", "small", "large"])
def test_interactor_survives_odd_requests(
    interactor: Sample, body: dict[str, Any], size: tuple[int, int]
) -> None:
    image = Image.new("RGB", size, (30, 30, 30))
    answer = interactor.call({"image": b64_image(image), "obj_bbox": None, **body})
    assert isinstance(answer["shapes"], list)
    for shape in answer["shapes"]:
        decode_mask_shape(shape, *size)


# --- tracker -----------------------------------------------------------------


def cvat_signed(states: list[Any]) -> list[Any]:
    """What CVAT hands back next frame: the states through json.dumps/json.loads."""
    return [None if s is None else json.loads(json.dumps(s, separators=(",", ":"))) for s in states]


@pytest.mark.parametrize("index", range(2), ids=fixture_ids("template_tracker"))
def test_tracker_follows_the_golden_shift(tracker: Sample, index: int) -> None:
    fixture = tracker.fixtures()[index]
    shapes = fixture["shapes"]
    # Start as CVAT does now: shapes and no states; the shapes come back unchanged.
    first = tracker.call(
        {"image": b64_file(tracker.path(fixture["image"])), "shapes": shapes, "states": []}
    )
    assert len(first["shapes"]) == len(first["states"]) == len(shapes)
    for got, sent in zip(first["shapes"], shapes, strict=True):
        assert iou(got, sent) > 0.99
    # Go on as CVAT does now: states, and null shapes; a fresh worker must cope.
    fresh = new_context(tracker.module)
    second = tracker.call(
        {
            "image": b64_file(tracker.path(fixture["next_image"])),
            "shapes": [None] * len(shapes),
            "states": cvat_signed(first["states"]),
        },
        context=fresh,
    )
    assert len(second["shapes"]) == len(second["states"]) == len(shapes)
    for got, expected in zip(second["shapes"], fixture["expected"], strict=True):
        assert iou(got, expected["points"]) >= tracker.min_iou, (got, expected)


def test_tracker_is_pixel_exact_on_the_known_shift(tracker: Sample) -> None:
    spec = importlib.util.spec_from_file_location(
        "make_fixtures", ROOT / "fixtures/make_fixtures.py"
    )
    assert spec and spec.loader
    make_fixtures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_fixtures)
    dx, dy = make_fixtures.TRACK_SHIFT
    fixture = tracker.fixtures()[0]
    start = tracker.call(
        {
            "image": b64_file(tracker.path(fixture["image"])),
            "shapes": fixture["shapes"],
            "states": [],
        }
    )
    moved = tracker.call(
        {
            "image": b64_file(tracker.path(fixture["next_image"])),
            "shapes": [None] * len(fixture["shapes"]),
            "states": cvat_signed(start["states"]),
        }
    )
    for got, sent in zip(moved["shapes"], fixture["shapes"], strict=True):
        truth = [sent[0] + dx, sent[1] + dy, sent[2] + dx, sent[3] + dy]
        assert max(abs(g - t) for g, t in zip(got, truth, strict=True)) <= 1.5, (got, truth)


def test_tracker_answers_shape_dicts_when_sent_them(tracker: Sample) -> None:
    # With supported_shape_types declared, CVAT sends {"type", "points"} and takes it back.
    fixture = tracker.fixtures()[0]
    shapes = [{"type": "rectangle", "points": p, "rotation": 0} for p in fixture["shapes"]]
    first = tracker.call(
        {"image": b64_file(tracker.path(fixture["image"])), "shapes": shapes, "states": []}
    )
    second = tracker.call(
        {
            "image": b64_file(tracker.path(fixture["next_image"])),
            "shapes": [None, None],
            "states": cvat_signed(first["states"]),
        }
    )
    for got, expected in zip(second["shapes"], fixture["expected"], strict=True):
        assert got["type"] == "rectangle"
        assert iou(got["points"], expected["points"]) >= tracker.min_iou


def test_tracker_legacy_ui_sends_shapes_and_states(tracker: Sample) -> None:
    # Older UIs send the previous shapes with every state, and null states for new ones.
    fixture = tracker.fixtures()[0]
    first = tracker.call(
        {
            "image": b64_file(tracker.path(fixture["image"])),
            "shapes": fixture["shapes"],
            "states": [None, None],
        }
    )
    second = tracker.call(
        {
            "image": b64_file(tracker.path(fixture["next_image"])),
            "shapes": first["shapes"],
            "states": cvat_signed(first["states"]),
        }
    )
    for got, expected in zip(second["shapes"], fixture["expected"], strict=True):
        assert iou(got, expected["points"]) >= tracker.min_iou


@pytest.mark.parametrize(
    "shape",
    [[-50, -50, -10, -10], [0, 0, 0, 0], [5, 5, 900, 900], [1, 2, 3]],
    ids=["outside", "empty", "overflowing", "short"],
)
@pytest.mark.parametrize("size", [(1, 1), (40, 30)], ids=["1x1", "small"])
def test_tracker_survives_odd_shapes_and_frames(
    tracker: Sample, shape: list[float], size: tuple[int, int]
) -> None:
    image = b64_image(Image.new("L", size, 100))
    first = tracker.call({"image": image, "shapes": [shape], "states": []})
    json.dumps(first["states"])
    second = tracker.call(
        {"image": image, "shapes": [None], "states": cvat_signed(first["states"])}
    )
    assert len(second["shapes"]) == len(second["states"]) == 1


# --- reid --------------------------------------------------------------------


def reid_body(sample: Sample, fixture: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = {
        "image0": b64_file(sample.path(fixture["image"])),
        "image1": b64_file(sample.path(fixture["image1"])),
        "boxes0": fixture["boxes0"],
        "boxes1": fixture["boxes1"],
    }
    if fixture.get("threshold"):
        body["threshold"] = fixture["threshold"]
    body.update(extra)
    return body


def as_cvat_shapes(boxes: list[list[float]], frame: int, label_id: int = 7) -> list[dict]:
    """Boxes the way CVAT's auto-annotation sends them: its own shape records."""
    return [
        {
            "type": "rectangle",
            "occluded": False,
            "z_order": 0,
            "rotation": 0.0,
            "points": box,
            "frame": frame,
            "label_id": label_id,
            "group": None,
            "source": "manual",
            "attributes": [],
            "elements": [],
            "outside": False,
        }
        for box in boxes
    ]


def assert_reid_answer(answer: Any, boxes0: list, boxes1: list) -> None:
    assert isinstance(answer, list) and len(answer) == len(boxes0)
    assert all(isinstance(j, int) and -1 <= j < len(boxes1) for j in answer)
    taken = [j for j in answer if j >= 0]
    assert len(taken) == len(set(taken)), f"two boxes matched to one: {answer}"


def test_reid_matches_the_golden_pairs(reid: Sample) -> None:
    fixture = reid.fixtures()[0]
    answer = reid.call(reid_body(reid, fixture))
    assert_reid_answer(answer, fixture["boxes0"], fixture["boxes1"])
    assert answer == fixture["expected_matches"]


def test_reid_matches_by_colour_not_only_by_place(reid: Sample) -> None:
    fixture = reid.fixtures()[0]
    answer = reid.call(reid_body(reid, fixture, max_distance=100000))
    assert answer == fixture["expected_matches"]


def test_reid_takes_cvat_shape_records(reid: Sample) -> None:
    fixture = reid.fixtures()[0]
    body = reid_body(reid, fixture, max_distance=50)
    body["boxes0"] = as_cvat_shapes(fixture["boxes0"], 0)
    body["boxes1"] = as_cvat_shapes(fixture["boxes1"], 1)
    assert reid.call(body) == fixture["expected_matches"]
    body["boxes1"] = as_cvat_shapes(fixture["boxes1"], 1, label_id=8)
    assert reid.call(body) == [-1] * len(fixture["boxes0"]), "labels differ: no match"


@pytest.mark.parametrize(
    "extra", [{"threshold": 0.01}, {"max_distance": 1}], ids=["strict-threshold", "near-only"]
)
def test_reid_limits_drop_matches(reid: Sample, extra: dict[str, float]) -> None:
    fixture = reid.fixtures()[0]
    answer = reid.call(reid_body(reid, fixture, **extra))
    assert answer == [-1] * len(fixture["boxes0"])


@pytest.mark.parametrize(
    ("boxes0", "boxes1"),
    [
        ([], []),
        ([[0, 0, 10, 10]], []),
        ([[5, 5, 5, 5]], [[0, 0, 0, 0]]),
        ([[-100, -100, -50, -50], [1, 1, 8, 8]], [[1, 1, 8, 8], [2, 2, 9, 9]]),
    ],
    ids=["none", "nothing-to-match", "degenerate", "outside-and-overlapping"],
)
def test_reid_survives_odd_boxes(reid: Sample, boxes0: list, boxes1: list) -> None:
    image = b64_image(Image.new("P", (12, 12)))
    answer = reid.call({"image0": image, "image1": image, "boxes0": boxes0, "boxes1": boxes1})
    assert_reid_answer(answer, boxes0, boxes1)
