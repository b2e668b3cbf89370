"""Files that could hang a command: every reader of function.yaml and cvat-fn.yaml refuses
an alias bomb, a 20 MB file, a FIFO and a symlink loop with a clear word, and what walks a
function directory (the build context, export, the dashboard's --reload) gets past a FIFO and
a symlink loop in it. Each goes through the real entry point; HANG_S only catches a hang (a
refusal takes well under a second; before harness/nuclio/files.py, lint and invoke expanded
the bomb for minutes, the 20 MB file took minutes to parse, and a FIFO blocked pin forever)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.nuclio.runners.image import BaseImage, make_context
from harness.nuclio.spec import load_spec
from tests.dashboard_helpers import Dashboard
from tests.test_cli_invoke import child_env
from tests.test_dashboard import SIZER_MAIN, jpeg, write_sizer

ROOT = Path(__file__).resolve().parents[1]
ASTRONAUT = ROOT / "fixtures" / "images" / "astronaut.jpg"
HANG_S = 30.0
DIGEST = "python@sha256:" + "a" * 64

FUNCTION_HEAD = """\
metadata:
  name: hostile
  annotations:
    name: hostile
    type: detector
    spec: '[{"id": 0, "name": "face", "type": "rectangle"}]'
"""
FUNCTION_TAIL = """\
spec:
  handler: main:handler
  runtime: python:3.9
"""


def alias_bomb(indent: str) -> str:
    """Nine levels of ten aliases each: 10^9 scalars once expanded (a "billion laughs")."""
    lines = [f"{indent}l0: &l0 lol"]
    for level in range(1, 10):
        aliases = ", ".join([f"*l{level - 1}"] * 10)
        lines.append(f"{indent}l{level}: &l{level} [{aliases}]")
    return "\n".join(lines) + "\n"


def write_bomb(path: Path) -> None:
    if path.name == "cvat-fn.yaml":
        path.write_text('cvat_version: "2.73.0"\nbomb:\n' + alias_bomb("  "))
    else:  # under the annotations, which load_spec turns into strings
        path.write_text(FUNCTION_HEAD + alias_bomb("    ") + FUNCTION_TAIL)


def write_big(path: Path) -> None:
    """20 MB of plain keys: pure-Python PyYAML and ruamel.yaml take minutes to parse it."""
    rows = "".join(f"    k{i:07d}: vvvvvvvvvvvvvvvvvvvvvvvv\n" for i in range(540_000))
    head = 'cvat_version: "2.73.0"\nbig:\n' if path.name == "cvat-fn.yaml" else FUNCTION_HEAD
    path.write_text(head + rows + (FUNCTION_TAIL if path.name != "cvat-fn.yaml" else ""))
    assert path.stat().st_size > 20_000_000


def write_fifo(path: Path) -> None:
    os.mkfifo(path)


def write_loop(path: Path) -> None:
    path.symlink_to(path.name)  # function.yaml -> function.yaml


BAD: dict[str, tuple[Callable[[Path], None], str]] = {
    "alias bomb": (write_bomb, "90 aliases expand to more than 100,000 nodes"),
    "20 MB": (write_big, "over the 1 MiB cvat-fn reads of a YAML file"),
    "FIFO": (write_fifo, "a FIFO (named pipe), not a file"),
    "symlink loop": (write_loop, "a symlink loop"),
}


def cvat_fn(*args: str | Path, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", *map(str, args)],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    return done, time.monotonic() - started


def bad_function(tmp_path: Path, bad: str) -> Path:
    """A function directory whose function.yaml is ``bad``."""
    directory = tmp_path / "fn"
    directory.mkdir()
    (directory / "main.py").write_text(SIZER_MAIN)
    BAD[bad][0](directory / "function.yaml")
    return directory


def bad_config(tmp_path: Path, bad: str) -> Path:
    """A good function directory whose cvat-fn.yaml is ``bad``."""
    directory = write_sizer(tmp_path / "fn")
    BAD[bad][0](directory / "cvat-fn.yaml")
    return directory


# --- function.yaml --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", list(BAD))
def test_lint_refuses_a_hostile_function_yaml(tmp_path: Path, bad: str) -> None:
    directory = bad_function(tmp_path, bad)
    done, seconds = cvat_fn("lint", directory, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert f"function.yaml: {BAD[bad][1]}" in done.stdout, (done.stdout, seconds)
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("bad", list(BAD))
def test_invoke_refuses_a_hostile_function_yaml(tmp_path: Path, bad: str) -> None:
    directory = bad_function(tmp_path, bad)
    done, seconds = cvat_fn(
        "invoke", "--function", directory, "--kind", "detector", ASTRONAUT, cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr
    assert f"cvat-fn invoke: function.yaml: {BAD[bad][1]}" in done.stderr, seconds


@pytest.mark.parametrize("bad", list(BAD))
def test_pin_refuses_a_hostile_function_yaml(tmp_path: Path, bad: str) -> None:
    path = bad_function(tmp_path, bad) / "function.yaml"
    done, seconds = cvat_fn("pin", path, "--base-image", DIGEST, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"cvat-fn pin: {path}: {BAD[bad][1]}" in done.stderr, seconds


def suite_refused(result: pytest.RunResult, message: str) -> None:
    """Refused as a usage error (the file cannot be found as a file) or as the failed item
    that reads it (plugin.py's ``config`` item), never run past or hung on."""
    assert result.ret in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.TESTS_FAILED)
    assert message in "\n".join(result.outlines + result.errlines), result.outlines
    assert "Traceback" not in "\n".join(result.errlines)


@pytest.mark.parametrize("bad", list(BAD))
def test_the_suite_refuses_a_hostile_function_yaml(
    pytester: pytest.Pytester, tmp_path: Path, bad: str
) -> None:
    directory = bad_function(tmp_path, bad)
    result = pytester.runpytest_subprocess(f"--function={directory}", timeout=HANG_S)
    suite_refused(result, f"function.yaml: {BAD[bad][1]}")


def test_the_dashboard_leaves_out_each_hostile_function_yaml(tmp_path: Path) -> None:
    directories = []
    for bad in BAD:
        directory = tmp_path / bad.replace(" ", "_")
        directory.mkdir()
        (directory / "main.py").write_text(SIZER_MAIN)
        BAD[bad][0](directory / "function.yaml")
        directories.append(directory)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    dashboard = Dashboard(directories, cwd=tmp_path, tmp=scratch)
    try:
        for bad, directory in zip(BAD, directories, strict=True):
            dashboard.wait_line(
                rf"{directory.name}: NOT listed .*: function\.yaml: {re.escape(BAD[bad][1])}",
                timeout=HANG_S,
            )
        assert dashboard.functions() == {}
        assert dashboard.proc.poll() is None
    finally:
        dashboard.stop()
    assert not any("Traceback" in line for line in dashboard.err), dashboard.err


# --- cvat-fn.yaml ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", list(BAD))
def test_lint_names_a_hostile_cvat_fn_yaml(tmp_path: Path, bad: str) -> None:
    directory = bad_config(tmp_path, bad)
    done, _ = cvat_fn("lint", directory, cwd=tmp_path)
    assert f"cvat-fn.yaml: file: {BAD[bad][1]}" in done.stdout, done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("bad", list(BAD))
def test_the_suite_refuses_a_hostile_cvat_fn_yaml(
    pytester: pytest.Pytester, tmp_path: Path, bad: str
) -> None:
    directory = bad_config(tmp_path, bad)
    result = pytester.runpytest_subprocess(f"--function={directory}", timeout=HANG_S)
    suite_refused(result, f"cvat-fn.yaml: file: {BAD[bad][1]}")


def write_recording(root: Path) -> Path:
    """One recording as ``cvat-fn dashboard --record`` writes it (recording.py Recorder)."""
    where = root / "0001-sizer"
    where.mkdir(parents=True)
    (where / "image.jpg").write_bytes(ASTRONAUT.read_bytes())
    exchange = {
        "function": "sizer",
        "kind": "detector",
        "request": {"fields": {"threshold": 0.5}, "images": {"image": "image.jpg"}},
        "answer": {"status": 200, "body": []},
        "findings": [],
    }
    (where / "exchange.json").write_text(json.dumps(exchange))
    return root


@pytest.mark.parametrize("bad", list(BAD))
def test_fixtures_into_refuses_a_hostile_cvat_fn_yaml(tmp_path: Path, bad: str) -> None:
    config = bad_config(tmp_path, bad) / "cvat-fn.yaml"
    records = write_recording(tmp_path / "records")
    done, seconds = cvat_fn("fixtures", records, "--into", config, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"cvat-fn fixtures: {config}: {BAD[bad][1]}" in done.stderr, seconds


SDK_MODULE = """\
import cvat_sdk.auto_annotation as cvataa

spec = cvataa.DetectionFunctionSpec(labels=[cvataa.label_spec("face", 0)])


def detect(context, image):
    return []
"""


@pytest.mark.parametrize("bad", list(BAD))
def test_export_refuses_a_hostile_cvat_fn_yaml_beside_the_module(tmp_path: Path, bad: str) -> None:
    pytest.importorskip("cvat_sdk")
    module_dir = tmp_path / "mod"
    module_dir.mkdir()
    (module_dir / "func.py").write_text(SDK_MODULE)
    BAD[bad][0](module_dir / "cvat-fn.yaml")
    done, seconds = cvat_fn("export-nuclio", module_dir / "func.py", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"cvat-fn export-nuclio: cvat-fn.yaml: {BAD[bad][1]}" in done.stderr, seconds


# --- a FIFO and a symlink loop inside the function directory --------------------------------


def litter(directory: Path) -> None:
    """A FIFO, a link back to the directory itself, a link to its parent from a subdirectory
    (two loops: followed blindly, 2^40 paths) and a link to itself."""
    os.mkfifo(directory / "pipe")
    (directory / "again").symlink_to(".")
    (directory / "sub").mkdir()
    (directory / "sub" / "up").symlink_to("..")
    (directory / "self").symlink_to("self")


SOME_BASE = BaseImage("python:3.11-slim", "sha256:" + "0" * 64)


def test_the_build_context_leaves_out_a_fifo_and_symlink_loops_and_says_so(
    tmp_path: Path,
) -> None:
    directory = write_sizer(tmp_path / "fn")
    litter(directory)
    context = make_context(load_spec(directory), SOME_BASE)
    inside = "root/opt/nuclio/"
    baked = sorted(n.removeprefix(inside) for n in context.files if n.startswith(inside))
    assert baked == ["function.yaml", "main.py"]
    assert sorted(context.skipped) == [
        "again: a symlink loop (a link to a directory it is in): not followed",
        "pipe: a FIFO (named pipe), not a file: left out",
        "self: a symlink loop (too many levels of symbolic links): left out",
        "sub/up: a symlink loop (a link to a directory it is in): not followed",
    ]


def test_export_copies_past_a_fifo_and_symlink_loops_and_says_so(tmp_path: Path) -> None:
    pytest.importorskip("cvat_sdk")
    module_dir = tmp_path / "mod"
    module_dir.mkdir()
    (module_dir / "func.py").write_text(SDK_MODULE)
    (module_dir / "weights.txt").write_text("w")
    litter(module_dir)
    done, _ = cvat_fn("export-nuclio", module_dir / "func.py", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "cvat-fn export-nuclio: pipe: a FIFO (named pipe), not a file: left out" in done.stderr
    assert "again: a symlink loop" in done.stderr and "sub/up: a symlink loop" in done.stderr
    assert (tmp_path / "out" / "weights.txt").read_text() == "w"


def test_reload_keeps_watching_past_a_fifo_and_a_symlink_loop(tmp_path: Path) -> None:
    directory = write_sizer(tmp_path / "sizer")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    dashboard = Dashboard([directory, "--reload"], cwd=tmp_path, tmp=scratch)
    try:
        dashboard.wait_state("sizer")
        dashboard.wait_line(r"--reload: watching")
        litter(directory)  # made while watched: each is a change the watcher must get past
        mark = len(dashboard.err)
        main = directory / "main.py"
        main.write_text(main.read_text().replace('LABEL = "face"', 'LABEL = "person"'))
        dashboard.wait_line(r"sizer: ready again", since=mark)
        answer = dashboard.invoke("sizer", {"image": jpeg()})
        assert answer.status_code == 200, answer.text
        assert answer.json()[0]["label"] == "person"
    finally:
        dashboard.stop()
    assert not any("Traceback" in line for line in dashboard.err), "".join(dashboard.err)
