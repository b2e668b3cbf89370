"""cvat-fn lint: a CVAT-shaped function passes; each defect is reported with its place."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.cvat.lint import lint_directory

GOOD_YAML = """\
metadata:
  name: openvino-face-detection
  namespace: cvat
  annotations:
    name: Face detection
    type: detector
    framework: openvino
    spec: |
      [
        { "id": 0, "name": "face", "type": "rectangle" }
      ]

spec:
  description: Face detection
  runtime: 'python:3.10'
  handler: main:handler
  eventTimeout: 30s

  build:
    image: cvat.openvino.face-detection
    baseImage: ubuntu:22.04
    directives:
      preCopy:
        - kind: RUN
          value: apt-get update && apt-get -y install python3-pip
        - kind: WORKDIR
          value: /opt/nuclio

  triggers:
    myHttpTrigger:
      numWorkers: 2
      kind: 'http'
      workerAvailabilityTimeoutMilliseconds: 10000
      attributes:
        maxRequestBodySize: 33554432 # 32MB

  platform:
    attributes:
      restartPolicy:
        name: always
        maximumRetryCount: 3
      mountMode: volume
"""

GOOD_MAIN = """\
import json

from model_handler import ModelHandler


def init_context(context):
    context.user_data.model = ModelHandler()


def handler(context, event):
    return context.Response(body=json.dumps([]), content_type="application/json")
"""


def make(tmp_path: Path, yaml_text: str = GOOD_YAML, main: str | None = GOOD_MAIN) -> Path:
    (tmp_path / "function.yaml").write_text(yaml_text)
    if main is not None:
        (tmp_path / "main.py").write_text(main)
    return tmp_path


def edit(mutate) -> str:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(GOOD_YAML)
    mutate(data)
    return yaml.safe_dump(data, sort_keys=False)


def messages(tmp_path: Path) -> list[str]:
    return [str(f) for f in lint_directory(tmp_path)]


def test_a_function_shaped_like_cvats_own_passes(tmp_path):
    assert messages(make(tmp_path)) == []


def test_the_model_is_never_imported(tmp_path):
    main = "raise SystemExit('imported!')\n\ndef handler(context, event):\n    return ''\n"
    assert messages(make(tmp_path, main=main)) == []


def test_invalid_label_json_names_line_column_and_trailing_comma(tmp_path):
    bad = GOOD_YAML.replace('"rectangle" }', '"rectangle" },')
    found = messages(make(tmp_path, bad))
    assert len(found) == 1
    assert found[0].startswith("function.yaml:8: metadata.annotations.spec: invalid JSON at line 3")
    assert "(trailing comma?)" in found[0]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["metadata"]["annotations"].pop("type"),
            "metadata.annotations.type: missing: CVAT skips a function without one",
        ),
        (
            lambda d: d["metadata"]["annotations"].update(type="segmenter"),
            "metadata.annotations.type: 'segmenter' is not a kind CVAT knows",
        ),
        (
            lambda d: d["metadata"]["annotations"].update(spec='{"name": "face"}'),
            "metadata.annotations.spec: must be a JSON list of labels, got dict",
        ),
        (
            lambda d: d["metadata"]["annotations"].update(
                spec=json.dumps([{"id": 0, "name": "face"}, {"id": 1, "name": "face"}])
            ),
            "metadata.annotations.spec: [1]: duplicate label name 'face' (also [0])",
        ),
        (
            lambda d: d["metadata"]["annotations"].update(
                spec=json.dumps([{"id": 0, "name": "face"}, {"id": 0, "name": "car"}])
            ),
            "metadata.annotations.spec: warning: [1]: duplicate label id 0 (also [0]): CVAT never",
        ),
        (
            lambda d: d["metadata"]["annotations"].update(
                spec=json.dumps([{"id": 0, "type": "any"}])
            ),
            "metadata.annotations.spec: [0]: label without a name",
        ),
        (
            lambda d: d["spec"].update(handler="main.handler"),
            "spec.handler: 'main.handler' is malformed: expected module:function",
        ),
        (
            lambda d: d["spec"].update(handler="detector:handler"),
            "spec.handler: warning: cannot tell: no detector.py",
        ),
        (
            lambda d: d["spec"].update(handler="main:detect"),
            "spec.handler: warning: cannot tell whether main.py has 'detect'",
        ),
        (
            lambda d: d["spec"].update(runtime="golang"),
            "spec.runtime: 'golang': cvat-fn runs Python functions only",
        ),
        (
            lambda d: d["spec"].update(eventTimeout="thirty seconds"),
            "spec.eventTimeout: 'thirty seconds' is not a Go duration",
        ),
        (
            lambda d: d["spec"]["triggers"]["myHttpTrigger"]["attributes"].update(
                maxRequestBodySize=4194304
            ),
            "maxRequestBodySize: 4194304 bytes is too small for a 4K frame in base64",
        ),
        (
            lambda d: d["spec"]["triggers"]["myHttpTrigger"].pop("attributes"),
            "4194304 bytes (Nuclio's default) is too small for a 4K frame",
        ),
        (
            lambda d: d["spec"]["triggers"]["myHttpTrigger"].update(numWorkers=0),
            "spec.triggers.myHttpTrigger.numWorkers: 0: needs a whole number of at least 1",
        ),
    ],
)
def test_each_defect_is_reported_with_its_place(tmp_path, mutate, expected):
    found = messages(make(tmp_path, edit(mutate)))
    assert any(expected in f for f in found), found
    hit = next(f for f in found if expected in f)
    assert hit.startswith("function.yaml:"), hit
    assert hit.split(":")[1].strip().isdigit(), f"no line number in {hit!r}"


def test_unreadable_yaml_is_one_error_with_its_line(tmp_path):
    found = messages(make(tmp_path, "metadata:\n  name: [unclosed\n"))
    assert len(found) == 1
    assert "not valid YAML" in found[0]


def test_directory_without_function_yaml(tmp_path):
    assert "no function.yaml here" in messages(tmp_path)[0]


def test_cli_exit_codes_and_output(tmp_path):
    good = make(tmp_path / "good" if (tmp_path / "good").mkdir() is None else tmp_path)
    ok = subprocess.run(
        [sys.executable, "-m", "harness.cli", "lint", str(good)], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    make(bad_dir, GOOD_YAML.replace("handler: main:handler", "handler: main:detect"))
    (bad_dir / "model_handler.py").write_text("class ModelHandler:\n    pass\n")
    bad = subprocess.run(
        [sys.executable, "-m", "harness.cli", "lint", "--import", str(bad_dir)],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1
    assert "spec.handler: main has no callable 'detect' once imported" in bad.stdout
    assert "Traceback" not in bad.stderr
