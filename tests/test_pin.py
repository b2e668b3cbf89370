"""cvat-fn pin: only build.baseImage changes; comments, order and quoting are kept."""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DIGEST = "sha256:" + "ab12" * 16
REF = f"127.0.0.1:5000/faces@{DIGEST}"


def pin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "pin", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_pin_changes_the_base_image_line_only(tmp_path: Path) -> None:
    original = (ROOT / "sample_functions" / "face_detector" / "function.yaml").read_text()
    path = tmp_path / "function.yaml"
    path.write_text(original)
    done = pin(str(path), "--base-image", REF)
    assert done.returncode == 0, done.stderr
    assert f"build.baseImage ubuntu:22.04 -> {REF}" in done.stdout
    changed = [
        line
        for line in difflib.unified_diff(original.splitlines(), path.read_text().splitlines())
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == ["-    baseImage: ubuntu:22.04", f"+    baseImage: {REF}"]


@pytest.mark.parametrize(
    ("content", "ref", "message"),
    [
        ("spec:\n  build: {}\n", "faces:v1", "expected an image pinned by digest"),
        ("spec:\n  build: {}\n", "faces@sha256:abc", "expected an image pinned by digest"),
        ("metadata: {name: x}\n", REF, "spec: missing or not a mapping"),
        ("spec:\n  build: [1]\n", REF, "spec.build: not a mapping"),
        ("spec: [unclosed\n", REF, "not valid YAML"),
    ],
)
def test_pin_refuses_with_one_line(tmp_path: Path, content: str, ref: str, message: str) -> None:
    path = tmp_path / "function.yaml"
    path.write_text(content)
    done = pin(str(path), "--base-image", ref)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("cvat-fn pin: ") and message in line
    assert path.read_text() == content


def test_pin_names_a_missing_file(tmp_path: Path) -> None:
    done = pin(str(tmp_path / "nope.yaml"), "--base-image", REF)
    assert done.returncode == 2
    assert "nope.yaml: cannot read" in done.stderr


def test_a_tag_needs_allow_tag(tmp_path: Path) -> None:
    path = tmp_path / "function.yaml"
    path.write_text("spec:\n  build:\n    baseImage: old  # the model\n")
    assert pin(str(path), "--base-image", "faces:v1", "--allow-tag").returncode == 0
    assert path.read_text() == "spec:\n  build:\n    baseImage: faces:v1  # the model\n"


def test_a_quoted_value_stays_quoted_and_a_missing_one_is_added(tmp_path: Path) -> None:
    path = tmp_path / "function.yaml"
    path.write_text("spec:\n  build:\n    baseImage: 'old'\n")
    assert pin(str(path), "--base-image", REF).returncode == 0
    assert path.read_text() == f'spec:\n  build:\n    baseImage: "{REF}"\n'
    path.write_text("# the model\nspec:\n  handler: main:handler  # entry\n")
    assert pin(str(path), "--base-image", REF).returncode == 0
    assert path.read_text() == (
        f"# the model\nspec:\n  handler: main:handler  # entry\n  build:\n    baseImage: {REF}\n"
    )
