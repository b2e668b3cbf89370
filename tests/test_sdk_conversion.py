"""Every annotation cvat-sdk accepts reaches CVAT's Nuclio answer, in the export and in the
suite; one that cannot be named there fails, never only a log line.

One cvat-sdk function per case (tests/sdk_functions/convert_*, each answering the same
annotations on any frame): every shape type, a skeleton with an outside keypoint and
attributes on it and on a keypoint, a tag, attributes of each input type, and fields CVAT's
Nuclio path drops (occluded, z_order). ``unconvertible_sublabel`` names a sublabel its spec
lacks, which cvat-sdk refuses too.

The answers are those CVAT v2.73.0 reads (``cvat/apps/lambda_manager/views.py``: ``invoke``
maps labels and attributes by name, ``DetectionResultConverter._parse_anno`` reads ``type``,
``points``, ``mask``, ``group_id``, ``outside``, ``rotation`` for rectangles and ellipses,
``elements`` through the skeleton's sublabels) for what cvat-sdk 2.80's driver uploads
(``cvat_sdk/auto_annotation/driver.py`` ``_AnnotationMapper``: the annotation as made, ids
mapped). A mask is checked by the round trip CVAT makes: datumaro's ``mask_to_rle`` of the
answer's bitmap gives back the SDK's run lengths.
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("cvat_sdk")

import cvat_sdk.auto_annotation as cvataa  # noqa: E402
import numpy as np  # noqa: E402
from cvat_sdk.masks import encode_mask  # noqa: E402

from harness.cli import main  # noqa: E402
from harness.cvat.client import FunctionClient  # noqa: E402
from harness.nuclio.runners.process import ProcessRunner  # noqa: E402
from harness.nuclio.spec import load_spec  # noqa: E402
from harness.sdk import nuclio_main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "tests" / "sdk_functions"
IMAGE = ROOT / "fixtures" / "images" / "astronaut.jpg"  # 512x512
UNCONVERTIBLE = "unconvertible_sublabel"
SDK_MESSAGE = "function output shape with unknown sublabel ID (9)"


def _disc_bitmap() -> tuple[np.ndarray, list[int]]:
    """convert_mask's disc on the 512x512 frame, and its inclusive box."""
    ys, xs = np.mgrid[0:512, 0:512]
    bitmap = (xs - 256) ** 2 + (ys - 256) ** 2 <= 40**2
    return bitmap, [216, 216, 296, 296]


def _mask_item() -> dict[str, Any]:
    bitmap, (x1, y1, x2, y2) = _disc_bitmap()
    cut = bitmap[y1 : y2 + 1, x1 : x2 + 1].astype(int).ravel().tolist()
    return {"label": "blob", "type": "mask", "mask": [*cut, x1, y1, x2, y2], "confidence": 0.95}


NO_ATTRS: list[dict[str, str]] = []
EXPECTED: dict[str, list[dict[str, Any]]] = {
    "convert_rectangle": [
        {"label": "box", "type": "rectangle", "points": [64, 96, 192, 224], "rotation": 30.0,
         "confidence": 0.9, "group_id": 3, "attributes": NO_ATTRS},
    ],
    "convert_polygon": [
        {"label": "roof", "type": "polygon", "points": [100, 100, 200, 100, 220, 200, 90, 210],
         "confidence": 0.8, "attributes": NO_ATTRS},
    ],
    "convert_polyline": [
        {"label": "horizon", "type": "polyline", "points": [50, 400, 150, 380, 300, 420],
         "attributes": NO_ATTRS},
    ],
    "convert_points": [
        {"label": "star", "type": "points", "points": [40, 40, 60, 50, 80, 45],
         "confidence": 0.7, "attributes": NO_ATTRS},
    ],
    "convert_ellipse": [
        {"label": "ball", "type": "ellipse", "points": [256, 256, 306, 226], "rotation": 15.0,
         "attributes": NO_ATTRS},
    ],
    "convert_cuboid": [
        {"label": "crate", "type": "cuboid",
         "points": [100, 100, 100, 200, 200, 100, 200, 200, 230, 80, 230, 180, 130, 80, 130, 180],
         "confidence": 0.6, "attributes": NO_ATTRS},
    ],
    "convert_mask": [{**_mask_item(), "attributes": NO_ATTRS}],
    "convert_keypoints": [
        {"label": "body", "type": "skeleton", "confidence": 0.85,
         "attributes": [{"name": "pose", "value": "sitting"}],
         "elements": [
             {"label": "head", "type": "points", "points": [256, 100], "outside": False,
              "attributes": NO_ATTRS},
             {"label": "left_hand", "type": "points", "points": [200, 200], "outside": True,
              "attributes": NO_ATTRS},
             {"label": "right_hand", "type": "points", "points": [312, 180], "outside": False,
              "attributes": [{"name": "raised", "value": "true"}]},
         ]},
    ],
    "convert_tag": [
        {"label": "indoor", "type": "tag",
         "attributes": [{"name": "note", "value": "seen from the door"},
                        {"name": "light", "value": "night"}]},
    ],
    "convert_attrs": [
        {"label": "car", "type": "rectangle", "points": [300, 300, 420, 380],
         "attributes": [{"name": "doors", "value": "4"}, {"name": "parked", "value": "true"},
                        {"name": "colour", "value": "blue"}, {"name": "make", "value": "volvo"},
                        {"name": "plate", "value": "AB 123"}]},
    ],
    "convert_occluded": [
        {"label": "roof", "type": "polygon", "points": [100, 100, 200, 100, 220, 200, 90, 210],
         "occluded": True, "z_order": 2, "attributes": NO_ATTRS},
    ],
}  # fmt: skip
LOSSES = {"convert_occluded": {"shape.occluded", "shape.z_order"}}
"""Cases the SDK accepts whose fields CVAT's Nuclio path drops: the judge names each loss."""


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("conversion-exports")
    for name in [*EXPECTED, UNCONVERTIBLE]:
        assert main(["export-nuclio", str(FUNCTIONS / name / f"{name}.py"), str(out / name)]) == 0
    return out


def _answer(directory: Path) -> Any:
    """CVAT's detector request to the exported function, run under the process runner."""
    spec = load_spec(directory)
    with ProcessRunner().start(directory, spec) as running:
        client = FunctionClient(running.url, "detector", spec.labels)
        return client.detect(IMAGE)


@pytest.mark.parametrize("case", list(EXPECTED))
def test_the_export_answers_what_cvat_reads(exports: Path, case: str) -> None:
    invocation = _answer(exports / case)
    assert invocation.status == 200, invocation.describe()
    assert invocation.body == EXPECTED[case], invocation.describe()
    failing = {f.code for f in invocation.findings if f.severity in ("error", "loss")}
    assert failing == LOSSES.get(case, set()), invocation.describe()
    assert not [f for f in invocation.findings if f.severity == "warning"], invocation.describe()


def test_a_mask_comes_back_to_the_sdk_runs_through_cvat() -> None:
    """views.py ``_parse_anno``: ``mask_to_rle(np.array(cut_points)[:, np.newaxis])`` of the
    answer's bitmap is what CVAT stores; it must be the SDK's own encoding."""
    mask_tools = pytest.importorskip("datumaro.util.mask_tools")
    bitmap, box = _disc_bitmap()
    sdk_points = encode_mask(bitmap)
    answer = _mask_item()["mask"]
    stored = mask_tools.mask_to_rle(np.array(answer[:-4])[:, np.newaxis])["counts"].tolist()
    assert [*stored, *answer[-4:]] == sdk_points
    assert answer[-4:] == box


def test_the_export_fails_a_request_it_cannot_convert(exports: Path) -> None:
    invocation = _answer(exports / UNCONVERTIBLE)
    assert invocation.status == 500, invocation.describe()
    assert f"BadFunctionError: {SDK_MESSAGE}" in invocation.text


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, tuple[str, str]]]:
    """One inner pytest session over every case module (as pytester's runpytest_subprocess):
    each item's (outcome, failure text) by function. Timing and search checks are left out:
    what is judged here is the answer."""
    workdir = tmp_path_factory.mktemp("conversion-suite")
    xml = workdir / "inner.xml"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={xml}"]
    for name in [*EXPECTED, UNCONVERTIBLE]:
        command += ["--function", str(FUNCTIONS / name / f"{name}.py")]
    command += ["-k", "not robustness and not concurrency and not latency and not threshold"]
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600)
    seen: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
    for item in ET.parse(xml).getroot().iter("testcase"):
        outcome, text = "passed", ""
        for tag in ("failure", "error", "skipped"):
            found = item.find(tag)
            if found is not None:
                outcome, text = tag, (found.text or "") + found.attrib.get("message", "")
                break
        seen[item.attrib["classname"]][item.attrib["name"]] = (outcome, text)
    assert seen, done.stdout + done.stderr
    return seen


@pytest.mark.parametrize("case", list(EXPECTED))
def test_the_suite_passes_what_converts(
    suite: dict[str, dict[str, tuple[str, str]]], case: str
) -> None:
    items = dict(suite[case])
    for check in ("answered", "schema", "sdk_answer"):
        assert f"{check}[astronaut]" in items, items
    assert items["accuracy"][0] == "passed", items["accuracy"]  # the shapes, where expected
    # the same shapes whatever the frame: geometry is turned off in each cvat-fn.yaml
    outcome, text = items.pop("geometry[astronaut]")
    assert outcome == "skipped" and "skip: [geometry]" in text, text
    failed = {name: text for name, (outcome, text) in items.items() if outcome != "passed"}
    if case in LOSSES:
        assert set(failed) == {"schema[astronaut]"}, failed
        assert "CVAT will drop this occluded" in failed["schema[astronaut]"]
        assert "CVAT will drop this z_order" in failed["schema[astronaut]"]
    else:
        assert not failed, failed


def test_the_suite_fails_what_cannot_convert(
    suite: dict[str, dict[str, tuple[str, str]]],
) -> None:
    items = suite[UNCONVERTIBLE]
    failed = {name: text for name, (outcome, text) in items.items() if outcome == "failure"}
    assert set(failed) == {"answered[astronaut]", "sdk_answer[astronaut]"}, items
    assert "HTTP 500" in failed["answered[astronaut]"]
    assert SDK_MESSAGE in failed["answered[astronaut]"]
    assert SDK_MESSAGE in failed["sdk_answer[astronaut]"]


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: {"label_id": 0, "type": "rectangle"}, "an object of type 'dict'"),
        (lambda: cvataa.rectangle(5, [1, 2, 3, 4]), "shape with unknown label ID (5)"),
        (lambda: cvataa.tag(5), "tag with unknown label ID (5)"),
        (
            lambda: cvataa.rectangle(0, [1, 2, 3, 4], attributes=[{"spec_id": 3, "value": "x"}]),
            "attribute with unknown ID (3)",
        ),
        (
            lambda: cvataa.rectangle(0, [1, 2, 3, 4], elements=[cvataa.keypoint(0, [1, 2])]),
            "non-skeleton shape with elements",
        ),
        (lambda: cvataa.mask(0, [1.5, 2, 0, 0, 3, 3]), "mask shape with a run length 1.5"),
        (lambda: cvataa.mask(0, [0, 0, 3, 3]), "mask shape with fewer than 5 points"),
    ],
)
def test_what_the_answer_cannot_name_is_refused_in_the_sdk_words(make: Any, says: str) -> None:
    """Each reason the conversion refuses, with cvat-sdk's wording where the SDK has one
    (driver.py ``validate_and_remap``, ``_remap_annotation``, ``_remap_attribute``,
    ``_remap_elements``; masks.py ``decode_mask`` wants whole run lengths)."""
    labels = {0: cvataa.label_spec("box", 0, type="any")}
    with pytest.raises(nuclio_main.Unconvertible, match=re.escape(says)):
        nuclio_main.to_cvat(make(), labels)
