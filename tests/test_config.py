"""cvat-fn.yaml: every mistake is an error that names its field, since a typo there would
otherwise quietly turn a check off; and the samples' own files load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from harness.suite.config import Budgets, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted(p.parent for p in (ROOT / "sample_functions").glob("*/cvat-fn.yaml"))


@pytest.fixture
def function_dir(tmp_path: Path) -> Path:
    """A directory with a frame to point fixtures at (no function.yaml needed here)."""
    Image.new("RGB", (64, 48), (90, 120, 30)).save(tmp_path / "frame.png")
    return tmp_path


def write(directory: Path, data: Any) -> Path:
    text = data if isinstance(data, str) else yaml.safe_dump(data)
    (directory / "cvat-fn.yaml").write_text(text)
    return directory


def error_of(directory: Path, data: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(directory, data))
    message = str(info.value)
    assert message.startswith("cvat-fn.yaml: "), message
    return message


def expect(**shape: Any) -> dict[str, Any]:
    """A file whose one fixture expects this one shape."""
    return {"fixtures": [{"image": "frame.png", "expected": [shape]}]}


def fixture(**fields: Any) -> dict[str, Any]:
    return {"fixtures": [{"image": "frame.png", **fields}]}


def test_a_full_file_loads(function_dir: Path) -> None:
    (function_dir / "next.png").write_bytes((function_dir / "frame.png").read_bytes())
    config = load_config(
        write(
            function_dir,
            {
                "cvat_version": "2.20",
                "fixtures": [
                    {
                        "image": "frame.png",
                        "name": "grass",
                        "threshold": 0.25,
                        "expected": [{"label": "face", "points": [1, 2, 30, 40]}],
                    },
                    {"image": "frame.png", "next_image": "next.png", "shapes": [[1, 2, 9, 9]]},
                    {"image": "frame.png", "name": "clicks", "pos_points": [[3, 4]]},
                ],
                "minimums": {"iou": 0.6, "recall": 0.9},
                "budgets": {"p95_ms": 250, "warm_requests": 7},
            },
        )
    )
    assert config.cvat_version == "2.20"
    assert [f.name for f in config.fixtures] == ["grass", "frame", "clicks"]
    grass = config.fixtures[0]
    assert grass.image == function_dir / "frame.png"
    assert grass.threshold == 0.25
    assert grass.expected is not None and grass.expected[0].points == [1.0, 2.0, 30.0, 40.0]
    assert grass.expected[0].type == "rectangle"  # the default
    assert config.fixtures[1].next_image == function_dir / "next.png"
    assert config.fixtures[2].pos_points == [[3.0, 4.0]]
    assert (config.minimums.iou, config.minimums.precision, config.minimums.recall) == (
        0.6,
        0.5,
        0.9,
    )
    assert config.budgets.p95_ms == 250 and config.budgets.p50_ms == Budgets().p50_ms
    assert config.budgets.warm_requests == 7 and isinstance(config.budgets.warm_requests, int)


def test_no_file_means_defaults_and_no_fixtures(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config.path is None and config.fixtures == []
    assert config.budgets == Budgets()


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_the_samples_files_load(sample: Path) -> None:
    config = load_config(sample)
    assert config.path == sample / "cvat-fn.yaml"
    assert config.fixtures and all(f.image.is_file() for f in config.fixtures)
    assert any(f.has_expectations for f in config.fixtures)


def test_samples_were_found() -> None:
    assert {p.name for p in SAMPLES} >= {
        "face_detector",
        "grabcut_interactor",
        "template_tracker",
        "histogram_reid",
    }


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        (fixture(thresh=0.5), "fixtures[0]", "unknown key(s) thresh (known: "),
        (fixture(threshold=1.5), "fixtures[0].threshold", "1.5 is outside [0.0, 1.0]"),
        (fixture(threshold=-0.1), "fixtures[0].threshold", "is outside [0.0, 1.0]"),
        (fixture(threshold="high"), "fixtures[0].threshold", "must be a number, got 'high'"),
        (fixture(threshold=True), "fixtures[0].threshold", "must be a number, got True"),
        (
            {"fixtures": [{"image": "frame.png"}, {"image": "missing.jpg"}]},
            "fixtures[1].image",
            "no such file missing.jpg (paths are relative to cvat-fn.yaml)",
        ),
        ({"fixtures": [{"name": "no-image"}]}, "fixtures[0].image", "missing"),
        (fixture(next_image="gone.png"), "fixtures[0].next_image", "no such file gone.png"),
        ({"fixtures": ["frame.png"]}, "fixtures[0]", "must be a mapping with at least image"),
        ({"fixtures": {"image": "frame.png"}}, "fixtures", "must be a list"),
        (fixture(pos_points=[[1, 2, 3]]), "fixtures[0].pos_points[0]", "a list like [n, n]"),
        (fixture(neg_points=[5, 6]), "fixtures[0].neg_points[0]", "a list like [n, n], got 5"),
        (fixture(boxes0=[[1, 2, 3]]), "fixtures[0].boxes0[0]", "a list like [n, n, n, n]"),
        (fixture(obj_bbox=[[1, 2, 3, 4]]), "fixtures[0].obj_bbox[0]", "a list like [n, n]"),
        (fixture(pos_points=[[1, "x"]]), "fixtures[0].pos_points[0]", "must be a number"),
        (
            fixture(expected=[{"label": "face", "points": [1, 2, 3]}]),
            "fixtures[0].expected[0].points",
            "a rectangle needs 4 numbers ([xtl, ytl, xbr, ybr]), got 3",
        ),
        (
            fixture(expected=[{"label": "face", "box": [1, 2, 3, 4], "points": [1, 2, 3, 4]}]),
            "fixtures[0].expected[0]",
            "unknown key(s) box",
        ),
        (fixture(expected_matches=[0, True]), "fixtures[0].expected_matches", "indexes or -1"),
        ({"budgets": {"p50": 100}}, "budgets.p50", "unknown (known: first_request_s, p50_ms"),
        ({"budgets": {"p95_ms": -5}}, "budgets.p95_ms", "-5 is below 0"),
        ({"budgets": {"p99_ms": "fast"}}, "budgets.p99_ms", "must be a number, got 'fast'"),
        ({"budgets": {"warm_requests": 0}}, "budgets.warm_requests", "at least 1, got 0"),
        ({"budgets": {"warm_requests": 2.5}}, "budgets.warm_requests", "whole number"),
        ({"budgets": [100]}, "budgets", "must be a mapping"),
        ({"minimums": {"recall": 1.2}}, "minimums.recall", "1.2 is outside [0.0, 1.0]"),
        ({"minimums": {"f1": 0.5}}, "minimums.f1", "unknown (known: iou, oks, precision, recall)"),
        ({"minimums": {"oks": 1.5}}, "minimums.oks", "1.5 is outside [0.0, 1.0]"),
        (
            expect(type="circle", points=[1, 2]),
            "fixtures[0].expected[0].type",
            "'circle' is not one of",
        ),
        (
            expect(type="points", points=[1, 2, 3]),
            "fixtures[0].expected[0].points",
            "an even count",
        ),
        (
            expect(type="polyline", points=[1, 2]),
            "fixtures[0].expected[0].points",
            "at least 4, got 2",
        ),
        (
            expect(type="polygon", points=[1, 2, 3, 4]),
            "fixtures[0].expected[0].points",
            "at least 6",
        ),
        (expect(type="mask", points=[1, 2, 3, 4, 5]), "fixtures[0].expected[0].points", "its box"),
        (
            expect(type="tag"),
            "fixtures[0].expected[0].label",
            "missing: a tag is matched by its label",
        ),
        (
            expect(label="cat", type="tag", points=[1, 2]),
            "fixtures[0].expected[0].points",
            "no points",
        ),
        (
            expect(label="p", type="skeleton"),
            "fixtures[0].expected[0].elements",
            "needs its elements",
        ),
        (
            expect(label="p", type="skeleton", elements=[{"points": [1, 2]}]),
            "fixtures[0].expected[0].elements[0].label",
            "missing: a skeleton element is matched by its label",
        ),
        (
            expect(
                label="p", type="skeleton", elements=[{"label": "nose", "points": [1, 2, 3, 4]}]
            ),
            "fixtures[0].expected[0].elements[0].points",
            "an element is one point [x, y]",
        ),
        (
            expect(
                label="p",
                type="skeleton",
                elements=[{"label": "eye", "points": [1, 2]}, {"label": "eye", "points": [3, 4]}],
            ),
            "fixtures[0].expected[0].elements[1].label",
            "'eye' appears twice",
        ),
        (
            expect(label="p", type="skeleton", points=[1, 2], elements=[]),
            "fixtures[0].expected[0].points",
            "a skeleton has no points of its own",
        ),
        (
            expect(label="p", points=[1, 2, 3, 4], elements=[]),
            "fixtures[0].expected[0].elements",
            "only a",
        ),
        ({"cvat_version": "latest"}, "cvat_version", "'latest' is not a CVAT version such as"),
        ({"cvat_version": "2"}, "cvat_version", "is not a CVAT version"),
        ({"cvat_version": 2.1}, "cvat_version", "must be a string, got 2.1"),
        ({"version": 1}, "version", "unknown top-level key(s)"),
    ],
)
def test_errors_name_the_field(function_dir: Path, data: Any, field: str, says: str) -> None:
    message = error_of(function_dir, data)
    assert message.startswith(f"cvat-fn.yaml: {field}: "), message
    assert says in message, message


def test_every_shape_type_can_be_expected(function_dir: Path) -> None:
    shapes = [
        {"label": "nose", "type": "points", "points": [10, 20]},
        {"label": "horizon", "type": "polyline", "points": [0, 24, 63, 24]},
        {"label": "road", "type": "polygon", "points": [0, 0, 10, 0, 10, 10]},
        {"type": "mask", "points": [1, 2, 30, 40]},
        {"type": "mask", "points": [1, 2, 30, 2, 30, 40]},
        {"label": "cat", "type": "Tag"},
        {
            "label": "person",
            "type": "skeleton",
            "elements": [{"label": "head", "points": [5, 6]}, {"label": "foot", "points": [5, 40]}],
        },
    ]
    config = load_config(
        write(function_dir, {"fixtures": [{"image": "frame.png", "expected": shapes}]})
    )
    got = [e.shape() for e in config.fixtures[0].expected or []]
    assert [s.type for s in got] == [
        "points",
        "polyline",
        "polygon",
        "mask",
        "mask",
        "tag",
        "skeleton",
    ]
    assert got[5].label == "cat" and got[5].points == []
    skeleton = got[6]
    assert [(e.label, e.points) for e in skeleton.elements] == [("head", [5, 6]), ("foot", [5, 40])]
    assert skeleton.bbox() == (5, 6, 5, 40)
    assert load_config(write(function_dir, {"minimums": {"oks": 0.7}})).minimums.oks == 0.7


def test_unquoted_version_is_refused_not_misread(function_dir: Path) -> None:
    # YAML reads 2.10 as the float 2.1: validating for CVAT 2.1 instead would be silent
    message = error_of(function_dir, "cvat_version: 2.10\n")
    assert "cvat_version" in message and "quotes" in message
    assert load_config(write(function_dir, 'cvat_version: "2.10"\n')).cvat_version == "2.10"


def test_duplicate_fixture_names_are_refused(function_dir: Path) -> None:
    # answers are kept by fixture name, so the second would silently get the first's answer
    data = {"fixtures": [{"image": "frame.png"}, {"image": "frame.png", "threshold": 0.9}]}
    message = error_of(function_dir, data)
    assert message.startswith("cvat-fn.yaml: fixtures[1].name: 'frame' is also fixtures[0]'s")


def test_invalid_yaml_names_the_line(function_dir: Path) -> None:
    message = error_of(function_dir, "fixtures:\n  - image: frame.png\n    threshold: [0.5\n")
    assert message.startswith("cvat-fn.yaml: line ") and "not valid YAML" in message


def test_top_level_must_be_a_mapping(function_dir: Path) -> None:
    assert "file: the top level must be a mapping" in error_of(function_dir, "- frame.png\n")
