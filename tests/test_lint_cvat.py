"""cvat-fn lint reads function.yaml as CVAT's ``LambdaFunction`` and Nuclio's config loader
do: one function.yaml per defect, its verdict and its place.

Sources: cvat-ai/cvat v2.73.0 ``cvat/apps/lambda_manager/views.py`` (``LambdaFunction.__init__``
and its ``parse_labels`` / ``parse_attributes``; ``invoke.check_attr_value`` for number values);
nuclio/nuclio at 1.14.1 (``pkg/processor/build/runtime/python/runtime.go``
``GetProcessorDockerfileInfo``, ``pkg/processor/build/runtime/python/docker/onbuild/Dockerfile``,
``pkg/functionconfig/reader.go`` ``validateConfigurationFileFunctionConfig``,
``pkg/functionconfig/types.go`` ``Meta.Annotations map[string]string``,
``pkg/platform/abstract/platform.go`` ``enrichTriggers``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cvat.lint import lint_directory
from tests.test_lint import GOOD_MAIN, GOOD_YAML


def function(
    tmp_path: Path, mutate: Any, name: str = "function.yaml", main: str = GOOD_MAIN
) -> Path:
    data = yaml.safe_load(GOOD_YAML)
    mutate(data)
    (tmp_path / name).write_text(yaml.safe_dump(data, sort_keys=False))
    (tmp_path / "main.py").write_text(main)
    return tmp_path / name


def labels(*items: dict[str, Any]) -> Any:
    return lambda d: d["metadata"]["annotations"].update(spec=json.dumps(list(items)))


def annotate(**values: Any) -> Any:
    return lambda d: d["metadata"]["annotations"].update(values)


def spec(**values: Any) -> Any:
    return lambda d: d["spec"].update(values)


def drop_description(d: dict[str, Any]) -> None:
    del d["spec"]["description"]


def trigger(**values: Any) -> Any:
    return lambda d: d["spec"]["triggers"]["myHttpTrigger"].update(values)


def second_http(d: dict[str, Any]) -> None:
    d["spec"]["triggers"]["other"] = {"kind": "http", "numWorkers": 1}


ATTR = {"name": "age", "input_type": "number", "values": ["0", "150", "1"]}
SKELETON = {
    "id": 1,
    "name": "body",
    "type": "skeleton",
    "sublabels": [{"id": 2, "name": "nose", "type": "points"}],
    "svg": "<circle />",
}

CASES = {
    # (mutation, severity, field, words)
    "python-3.6": (spec(runtime="python:3.6"), "error", "spec.runtime", "refused by Nuclio"),
    # runtime.go only warns for 3.7 / 3.8, but the onbuild Dockerfile has no wheels for them
    # since nuclio PR #3431 (1.14.1), so the build fails (cvat-ai/cvat issue #9592)
    "python-3.7": (spec(runtime="python:3.7"), "error", "spec.runtime", "no longer builds"),
    "python-3.8": (spec(runtime="python:3.8"), "error", "spec.runtime", "no longer builds"),
    "python-3.9": (spec(runtime="python:3.9"), "warning", "spec.runtime", "nuclio PR #3941"),
    "python-3.13": (spec(runtime="python:3.13"), "warning", "spec.runtime", "not among"),
    "no-description": (drop_description, "error", "spec.description", "function list fails"),
    "empty-description": (spec(description=""), "error", "spec.description", "missing or empty"),
    "attribute-without-input-type": (
        labels({"id": 0, "name": "face", "attributes": [{"name": "age", "values": ["1"]}]}),
        "error",
        "metadata.annotations.spec",
        "[0].attributes[0]: no 'input_type'",
    ),
    "attribute-without-values": (
        labels({"id": 0, "name": "face", "attributes": [{"name": "a", "input_type": "text"}]}),
        "error",
        "metadata.annotations.spec",
        "no 'values'",
    ),
    "attribute-duplicate": (
        labels({"id": 0, "name": "face", "attributes": [ATTR, ATTR]}),
        "error",
        "metadata.annotations.spec",
        "duplicate attribute name 'age'",
    ),
    # check_attr_value: map(int, db_attr["values"].split("\n")), then % step
    "number-values-not-whole": (
        labels({"id": 0, "name": "face", "attributes": [{**ATTR, "values": ["0", "1", "0.1"]}]}),
        "error",
        "metadata.annotations.spec",
        "three whole numbers",
    ),
    "number-values-two": (
        labels({"id": 0, "name": "face", "attributes": [{**ATTR, "values": ["0", "10"]}]}),
        "error",
        "metadata.annotations.spec",
        "three whole numbers",
    ),
    "number-step-zero": (
        labels({"id": 0, "name": "face", "attributes": [{**ATTR, "values": ["0", "10", "0"]}]}),
        "error",
        "metadata.annotations.spec",
        "step not 0",
    ),
    # LambdaFunction.__init__ (since 2.40): supported_shape_types split on commas
    "shape-types-empty": (
        annotate(type="tracker", supported_shape_types=" , "),
        "error",
        "metadata.annotations.supported_shape_types",
        "out of its list",
    ),
    "shape-types-unknown": (
        annotate(type="tracker", supported_shape_types="rectangle, box"),
        "warning",
        "metadata.annotations.supported_shape_types",
        "'box' is not a CVAT shape type",
    ),
    "shape-types-on-a-detector": (
        annotate(supported_shape_types="rectangle"),
        "warning",
        "metadata.annotations.supported_shape_types",
        "only trackers",
    ),
    # sigs.k8s.io/yaml turns an unquoted false into the text "false"; bool("false") is True
    "startswith-box-unquoted-false": (
        annotate(startswith_box=False),
        "warning",
        "metadata.annotations.startswith_box",
        "false reads as true",
    ),
    # cvat-ui tools-control.tsx: trackers without rectangle are filtered out of AI tools
    "shape-types-without-rectangle": (
        annotate(type="tracker", supported_shape_types="polygon,mask"),
        "warning",
        "metadata.annotations.supported_shape_types",
        "does not appear",
    ),
    # views.py parse_labels: label["name"] KeyError / unhashable name in a set
    "label-without-name-key": (
        labels({"id": 0, "type": "rectangle"}),
        "error",
        "metadata.annotations.spec",
        "label without a name",
    ),
    "label-name-a-list": (
        labels({"id": 0, "name": ["face"]}),
        "error",
        "metadata.annotations.spec",
        "is not text",
    ),
    "label-name-empty": (
        labels({"id": 0, "name": ""}),
        "warning",
        "metadata.annotations.spec",
        "needs a non-empty name",
    ),
    "attribute-values-not-a-list": (
        labels(
            {"id": 0, "name": "face", "attributes": [{**ATTR, "input_type": "text", "values": "x"}]}
        ),
        "warning",
        "metadata.annotations.spec",
        "should be a list of strings",
    ),
    "no-annotations": (
        lambda d: d["metadata"].pop("annotations"),
        "error",
        "metadata.annotations",
        "whole function list fails",
    ),
    "attribute-name-a-list": (
        labels({"id": 0, "name": "face", "attributes": [{**ATTR, "name": ["age"]}]}),
        "error",
        "metadata.annotations.spec",
        "is not text",
    ),
    # Nuclio hands annotations over as text: an unquoted false arrives as "false"
    "shape-types-unquoted-false": (
        annotate(type="tracker", supported_shape_types=False),
        "warning",
        "metadata.annotations.supported_shape_types",
        "'false' is not a CVAT shape type",
    ),
    "attribute-input-type-unknown": (
        labels({"id": 0, "name": "face", "attributes": [{**ATTR, "input_type": "slider"}]}),
        "warning",
        "metadata.annotations.spec",
        "is none CVAT checks",
    ),
    "skeleton-without-sublabels": (
        labels({k: v for k, v in SKELETON.items() if k != "sublabels"}),
        "error",
        "metadata.annotations.spec",
        "a skeleton needs 'sublabels'",
    ),
    "skeleton-without-svg": (
        labels({k: v for k, v in SKELETON.items() if k != "svg"}),
        "error",
        "metadata.annotations.spec",
        "a skeleton needs 'svg'",
    ),
    "sublabel-attribute-without-values": (
        labels(
            {
                **SKELETON,
                "sublabels": [
                    {"name": "nose", "attributes": [{"name": "v", "input_type": "text"}]}
                ],
            }
        ),
        "error",
        "metadata.annotations.spec",
        "[0].sublabels[0].attributes[0]: no 'values'",
    ),
    "version-not-int": (annotate(version="1.2"), "error", "metadata.annotations.version", "int()"),
    "min-pos-points": (
        annotate(min_pos_points="two"),
        "error",
        "metadata.annotations.min_pos_points",
        "int()",
    ),
    "startswith-box-false": (
        annotate(startswith_box="false"),
        "warning",
        "metadata.annotations.startswith_box",
        "reads as true",
    ),
    "max-workers": (
        lambda d: d["spec"]["triggers"]["myHttpTrigger"].update(maxWorkers=2),
        "warning",
        "spec.triggers.myHttpTrigger.maxWorkers",
        "use numWorkers",
    ),
    "two-http-triggers": (second_http, "error", "spec.triggers.other", "more than one"),
    "event-timeout-without-unit": (
        spec(eventTimeout=30),
        "error",
        "spec.eventTimeout",
        "not a Go duration",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_defect(tmp_path: Path, name: str) -> None:
    mutate, severity, field, words = CASES[name]
    found = lint_directory(function(tmp_path, mutate))
    hits = [f for f in found if f.field == field and words in f.message]
    assert hits, f"{name}: " + repr([str(f) for f in found])
    assert hits[0].severity == severity
    assert hits[0].line is not None, "the finding has no line"


@pytest.mark.parametrize("version", ["3.10", "3.11", "3.12"])
def test_current_python_runtimes_are_quiet(tmp_path: Path, version: str) -> None:
    assert lint_directory(function(tmp_path, spec(runtime=f"python:{version}"))) == []


def test_an_empty_spec_is_no_labels(tmp_path: Path) -> None:
    # views.py: json.loads(meta_anno.get("spec") or "[]") -- an interactor needs no labels
    path = function(tmp_path, annotate(type="interactor", spec=""))
    assert lint_directory(path) == []


def test_unquoted_numbers_in_annotations_are_read_as_text(tmp_path: Path) -> None:
    # CVAT's own SAM function.yaml writes `version: 2` and `min_pos_points: 1` unquoted
    path = function(tmp_path, annotate(version=2, min_pos_points=1, min_neg_points=0))
    assert lint_directory(path) == []


def test_reid_without_labels_is_quiet(tmp_path: Path) -> None:
    # CVAT's person-reidentification functions declare no spec: CVAT needs none for re-id
    def reid(d: dict[str, Any]) -> None:
        d["metadata"]["annotations"]["type"] = "reid"
        del d["metadata"]["annotations"]["spec"]

    assert [str(f) for f in lint_directory(function(tmp_path, reid))] == []


HANDLER_IN_TRY = """\
try:
    from fast_model import handler
except ImportError:
    def handler(context, event):
        return "[]"
"""


def test_a_handler_bound_inside_try_is_found(tmp_path: Path) -> None:
    path = function(tmp_path, lambda d: None, main=HANDLER_IN_TRY)
    assert lint_directory(path) == []


def test_a_star_import_cannot_tell_and_import_settles_it(tmp_path: Path) -> None:
    (tmp_path / "impl.py").write_text("def handler(context, event):\n    return '[]'\n")
    path = function(tmp_path, lambda d: None, main="from impl import *\n")
    (hit,) = lint_directory(path)
    assert hit.severity == "warning" and "it imports names with *" in hit.message
    assert lint_directory(path, import_handler=True) == []


def test_import_reports_what_failed(tmp_path: Path) -> None:
    path = function(tmp_path, lambda d: None, main="import not_installed_anywhere\n")
    (hit,) = [f for f in lint_directory(path, import_handler=True) if f.field == "spec.handler"]
    assert hit.severity == "error"
    assert "No module named 'not_installed_anywhere'" in hit.message


def test_any_file_name_is_linted_as_given(tmp_path: Path) -> None:
    # CVAT ships function-gpu.yaml beside function.yaml; the file given is the one read
    function(tmp_path, lambda d: None)
    gpu = function(tmp_path, spec(runtime="python:3.6"), name="function-gpu.yaml")
    found = lint_directory(gpu)
    assert [f.file for f in found] == ["function-gpu.yaml"]
    assert lint_directory(tmp_path) == []
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "lint", str(gpu)], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stdout.startswith("function-gpu.yaml:")


def test_lint_takes_several_paths_and_totals_them(tmp_path: Path) -> None:
    # the form used to sweep a CVAT checkout: cvat-fn lint serverless/**/function*.yaml
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    good = function(tmp_path / "good", lambda d: None)
    bad = function(tmp_path / "bad", spec(runtime="python:3.8"))
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "lint", str(good), str(bad)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith(f"{bad}: function.yaml:") and "no longer builds" in done.stdout
    assert f"{good}: 0 error(s), 0 warning(s)" in done.stderr
    assert "2 functions: 1 error(s), 0 warning(s)" in done.stderr
    only_good = subprocess.run(
        [sys.executable, "-m", "harness.cli", "lint", str(good), str(good)],
        capture_output=True,
        text=True,
    )
    assert only_good.returncode == 0, only_good.stderr


# --- judged for a stated CVAT release -------------------------------------------------------
# Each CVAT release's Nuclio is the dashboard image in its
# components/serverless/docker-compose.serverless.yml (harness/cvat/releases.py); Nuclio
# 1.14.1 dropped the Python 3.7 / 3.8 wheels from its onbuild image (nuclio PR #3431).
CVAT_2_32 = Path(__file__).parent / "lint_fixtures" / "cvat-2.32"
OLD_STYLE = [CVAT_2_32 / "interactor", CVAT_2_32 / "detector"]


def runtime_findings(path: Path, cvat_version: str | None = None) -> list[Any]:
    return [f for f in lint_directory(path, cvat_version=cvat_version) if f.field == "spec.runtime"]


@pytest.mark.parametrize("path", OLD_STYLE, ids=lambda p: p.name)
def test_cvat_2_32_functions_are_judged_by_the_nuclio_that_release_ships(path: Path) -> None:
    (at_2_32,) = runtime_findings(path, "2.32")
    assert at_2_32.severity == "warning", at_2_32  # built on 2.32's Nuclio: no error
    assert "CVAT 2.32 ships a Nuclio from 1.13.0 to 1.15.9" in at_2_32.message
    (at_2_24,) = runtime_findings(path, "2.24")
    assert at_2_24.severity == "warning" and "CVAT 2.24 ships Nuclio 1.13.0" in at_2_24.message
    (at_2_73,) = runtime_findings(path)  # the default: the newest release known
    assert at_2_73.severity == "error", at_2_73
    assert "no longer builds" in at_2_73.message
    assert "CVAT 2.73 ships Nuclio 1.16.3" in at_2_73.message


def test_lint_takes_cvat_version_from_the_option_and_from_cvat_fn_yaml(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "harness.cli", "lint", *map(str, OLD_STYLE)]
    at_2_73 = subprocess.run(command, capture_output=True, text=True)
    assert at_2_73.returncode == 1 and "2 functions: 2 error(s)" in at_2_73.stderr
    at_2_32 = subprocess.run([*command, "--cvat-version", "2.32"], capture_output=True, text=True)
    assert at_2_32.returncode == 0, at_2_32.stdout + at_2_32.stderr
    assert "2 functions: 0 error(s)" in at_2_32.stderr
    stated = tmp_path / "detector"
    stated.mkdir()
    for name in ("function.yaml", "main.py"):
        (stated / name).write_text((CVAT_2_32 / "detector" / name).read_text())
    (stated / "cvat-fn.yaml").write_text('cvat_version: "2.32"\n')
    (finding,) = runtime_findings(stated)
    assert finding.severity == "warning" and "CVAT 2.32" in finding.message
    bad = subprocess.run([*command, "--cvat-version", "2.x"], capture_output=True, text=True)
    assert bad.returncode == 2
    said = "cvat-fn lint: --cvat-version: '2.x' is not a CVAT version such as '2.73'"
    assert bad.stderr.strip() == said


def test_supported_shape_types_is_judged_only_where_cvat_reads_it(tmp_path: Path) -> None:
    """views.py LambdaFunction.__init__ reads it since 2.40: before, an empty one is no
    error, only a note that CVAT ignores it."""
    path = function(tmp_path, annotate(type="tracker", supported_shape_types=""))
    now = [f for f in lint_directory(path) if f.field.endswith("supported_shape_types")]
    assert [f.severity for f in now] == ["error"]
    before = [f for f in lint_directory(path, cvat_version="2.32")
              if f.field.endswith("supported_shape_types")]  # fmt: skip
    assert [f.severity for f in before] == ["warning"]
    assert "CVAT 2.32 does not read it" in before[0].message


def test_the_suites_lint_check_judges_for_the_suites_cvat_version(tmp_path: Path) -> None:
    def lint_item(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "pytest", f"--function={CVAT_2_32 / 'detector'}",
                   "-p", "no:cacheprovider", "-k", "lint", "-q", *extra]  # fmt: skip
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)

    assert lint_item().returncode == 1  # CVAT 2.73's Nuclio cannot build python:3.8
    at_2_32 = lint_item("--cvat-version", "2.32")
    assert at_2_32.returncode == 0, at_2_32.stdout
    assert "1 passed" in at_2_32.stdout
