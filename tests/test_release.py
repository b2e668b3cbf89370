"""ci/release.sh of a repository from `cvat-fn new`, run for real: the model's image is built
and tested in Docker and pushed to a real registry (Debian's docker-registry on 127.0.0.1).
GitHub cannot be reached, so `gh` is a stand-in (tests/standins/gh.py) that serves the
release's assets from a folder and records uploads and deletions.

One good release, then one bad one on the same repository, so the bad one reuses the good
one's image layers (only the weights layer is rebuilt). Then the regression gate, on a second
repository holding an eval dataset (eval/, a CVAT for images 1.1 export of fixtures/eval): its
first release is kept with eval.json attached, its second, whose weights find fewer of the
dataset's faces, is deleted with the metric that dropped named. Both repositories push to the
session's registry (tests/conftest.py), as the workflow tests do: the base image's layer is
pushed to it once (about a minute for its 1 GB) and mounted from there after. As their
Dockerfile and requirements.txt are the same, they share the model image's layers too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from registry import digest, tags

from harness.nuclio.runners.docker import docker_available

pytestmark = pytest.mark.docker

HERE = Path(__file__).resolve().parent
EVAL_EXPORT = HERE.parent / "fixtures" / "eval" / "faces_cvat"
BASE_IMAGE = os.environ.get("CVAT_FN_BASE_IMAGE", "cvat-fn/python:3.11-bookworm")
CASCADE = "haarcascade_frontalface_default.xml"
NAME = "release-gate-demo"


@dataclass
class Release:
    repo: Path
    registry: str
    gh: Path  # the stand-in's state: releases/<tag>/, tags, calls.jsonl
    env: dict[str, str]
    name: str  # of the image in the registry (the session's, shared with other modules)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def image(self) -> str:
        return f"{self.registry}/{self.name}"

    def publish(self, tag: str, weights: bytes) -> None:
        """As a GitHub Release with the weights as its asset would be."""
        folder = self.gh / "releases" / tag
        folder.mkdir(parents=True)
        (folder / CASCADE).write_bytes(weights)
        with (self.gh / "tags").open("a") as handle:
            handle.write(f"{tag}\n")

    def run(self, tag: str) -> subprocess.CompletedProcess[str]:
        env = {
            **self.env,
            "RELEASE_TAG": tag,
            "IMAGE": self.image,
            "BASE_IMAGE": BASE_IMAGE,  # nothing can be pulled here: the local base image
            "CVAT_FN_TEST_ARGS": "--cvat-fn-examples=3",  # fewer Hypothesis examples
            **self.extra_env,
        }
        return subprocess.run(
            ["ci/release.sh"],
            cwd=self.repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=900,
        )

    def calls(self) -> list[list[str]]:
        path = self.gh / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]


def _repository(
    root: Path, registry: str, image_name: str, images_removed_at_the_end: list[str]
) -> Release:
    """A detector repository from `cvat-fn new`, with the stand-in gh on PATH. Its images
    (the model's, and the function images built on them) are removed when the session ends:
    the workflow tests build the same Dockerfile after this module and reuse their layers."""
    reason = docker_available()
    if reason:
        pytest.skip(reason)
    repo = root / "repo"
    made = subprocess.run(
        [sys.executable, "-m", "harness.cli", "new", str(repo), "--kind", "detector",
         "--name", NAME],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    gh_state = root / "gh"
    (gh_state / "releases").mkdir(parents=True)
    (gh_state / "tags").write_text("")
    (gh_state / "calls.jsonl").write_text("")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "standins" / "gh.py"}" "$@"\n')
    gh.chmod(0o755)
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]])
    env = {**os.environ, "PATH": path, "GH_STANDIN_DIR": str(gh_state)}
    state = Release(repo, registry, gh_state, env, image_name)
    images_removed_at_the_end.extend([state.image + ":", f"cvat-fn/{NAME}-"])
    return state


@pytest.fixture(scope="module")
def release(
    registry: str, tmp_path_factory: pytest.TempPathFactory, images_removed_at_the_end: list[str]
) -> Release:
    root = tmp_path_factory.mktemp("release")
    return _repository(root, registry, "release-model", images_removed_at_the_end)


def test_a_good_release_is_pushed_pinned_and_kept(release: Release) -> None:
    weights = (release.repo / "weights" / CASCADE).read_bytes()  # the demo model's cascade
    release.publish("v1.0.0", weights)
    done = release.run("v1.0.0")
    assert done.returncode == 0, done.stdout[-6000:]

    assert tags(release.registry, release.name) == ["v1.0.0"]
    pushed = digest(release.registry, release.name, "v1.0.0")
    assets = release.gh / "releases" / "v1.0.0"
    assert {p.name for p in assets.iterdir()} == {CASCADE, "function.yaml", "report.html"}
    attached = (assets / "function.yaml").read_text()
    assert f"    baseImage: {release.image}@{pushed}\n" in attached
    # Pinned, and otherwise the repository's function.yaml as written (comments included).
    original = (release.repo / "function.yaml").read_text()
    assert attached.splitlines()[:5] == original.splitlines()[:5]
    assert len(attached.splitlines()) == len(original.splitlines())
    assert "cvat-fn" in (assets / "report.html").read_text()

    commands = [call[:2] for call in release.calls()]
    assert ["release", "delete"] not in commands
    assert ["release", "upload"] in commands
    assert (release.gh / "tags").read_text().split() == ["v1.0.0"]
    verdict = (release.repo / "cvat-fn-report" / "verdict.md").read_text()
    assert "v1.0.0 kept" in verdict and pushed in verdict


def test_a_bad_release_is_deleted_and_nothing_is_pushed(release: Release) -> None:
    good = (release.repo / "weights" / CASCADE).read_bytes()
    release.publish("v1.0.1", good[: len(good) // 3])  # a truncated weights file
    before = len(release.calls())
    done = release.run("v1.0.1")
    assert done.returncode == 1, done.stdout[-6000:]

    assert tags(release.registry, release.name) == ["v1.0.0"]  # nothing pushed for v1.0.1
    assert not (release.gh / "releases" / "v1.0.1").exists()
    assert (release.gh / "tags").read_text().split() == ["v1.0.0"]
    calls = release.calls()[before:]
    assert ["release", "delete", "v1.0.1", "--cleanup-tag", "--yes"] in calls
    assert not [call for call in calls if call[:2] == ["release", "upload"]]

    # The failing check is named, and why: the weights file the model could not read.
    summary = done.stdout[done.stdout.index("failed checks") :]
    assert f"{NAME}: failed, 1 of " in summary, summary
    assert "\n- starts (failed)\n" in summary
    assert f"WeightsError: weights file /opt/model/weights/{CASCADE} is unreadable" in summary
    report = release.repo / "cvat-fn-report"
    assert (report / "junit.xml").is_file() and (report / "report.html").is_file()
    assert "v1.0.1 deleted" in (report / "verdict.md").read_text()


@pytest.fixture(scope="module")
def evaluated(
    registry: str, tmp_path_factory: pytest.TempPathFactory, images_removed_at_the_end: list[str]
) -> Release:
    """A repository holding an eval dataset where ci/release.sh looks for one (eval/)."""
    root = tmp_path_factory.mktemp("evaluated")
    state = _repository(root, registry, "evaluated", images_removed_at_the_end)
    shutil.copytree(EVAL_EXPORT, state.repo / "eval")
    # A minimum the demo model meets (map 0.42 on this dataset): the baseline decides.
    state.extra_env["CVAT_FN_EVAL_ARGS"] = "--minimum map=0.3 --no-progress"
    return state


def _opencv_cascade(name: str) -> bytes:
    cv2 = pytest.importorskip("cv2", reason="the samples extra (OpenCV's cascades)")
    return (Path(cv2.data.haarcascades) / name).read_bytes()


def test_regression_gate_keeps_the_eval_report_then_deletes_a_worse_release(
    evaluated: Release,
) -> None:
    # v1: OpenCV's haarcascade_frontalface_alt, under the name model_handler.py loads. It
    # passes the suite and finds 11 of the dataset's 12 faces; no release before it has an
    # eval.json, so there is no baseline, only the minimum.
    evaluated.publish("v1.0.0", _opencv_cascade("haarcascade_frontalface_alt.xml"))
    done = evaluated.run("v1.0.0")
    assert done.returncode == 0, done.stdout[-6000:]
    assert "no earlier release has an eval.json: no baseline" in done.stdout
    assets = evaluated.gh / "releases" / "v1.0.0"
    assert {p.name for p in assets.iterdir()} == {
        CASCADE,
        "function.yaml",
        "report.html",
        "eval.json",
        "eval.html",
    }
    kept = json.loads((assets / "eval.json").read_text())
    assert kept["images"] == 12 and kept["failed_images"] == 0
    assert kept["function"]["runtime"] == "docker"
    old_ap50 = kept["metrics"]["ap50"]
    assert old_ap50 > 0.85, kept["metrics"]
    assert tags(evaluated.registry, "evaluated") == ["v1.0.0"]
    assert not [c for c in evaluated.calls() if c[:2] == ["release", "delete"]]

    # v2: the demo's haarcascade_frontalface_default, which passes the suite (the fixtures'
    # one face) but misses half of the dataset's faces: deleted, naming ap50's drop.
    evaluated.publish("v2.0.0", _opencv_cascade(CASCADE))
    before = len(evaluated.calls())
    done = evaluated.run("v2.0.0")
    assert done.returncode == 1, done.stdout[-6000:]
    assert "evaluating the function built on" in done.stdout  # the suite passed
    calls = evaluated.calls()[before:]
    # The baseline came through gh: the newest other release with an eval.json attached.
    assert ["release", "view", "v1.0.0", "--json", "assets"] in calls
    assert [
        "release", "download", "v1.0.0", "--pattern", "eval.json", "--dir",
        "cvat-fn-report/baseline", "--clobber",
    ] in calls  # fmt: skip
    assert ["release", "delete", "v2.0.0", "--cleanup-tag", "--yes"] in calls
    assert not [c for c in calls if c[:2] == ["release", "upload"]]
    assert tags(evaluated.registry, "evaluated") == ["v1.0.0"]  # nothing pushed for v2.0.0
    assert not (evaluated.gh / "releases" / "v2.0.0").exists()
    assert (evaluated.gh / "tags").read_text().split() == ["v1.0.0"]

    new = json.loads((evaluated.repo / "cvat-fn-report" / "eval" / "eval.json").read_text())
    new_ap50 = new["metrics"]["ap50"]
    assert new_ap50 < old_ap50 - 0.1
    heading = "failed metrics (baseline: eval.json of release v1.0.0)"
    summary = done.stdout[done.stdout.index(heading) :]
    assert f"ap50 dropped from {old_ap50:.4f} (baseline) to {new_ap50:.4f}" in summary, summary
    assert "map is" not in summary  # the minimum held: the drop alone failed it
    verdict = (evaluated.repo / "cvat-fn-report" / "verdict.md").read_text()
    assert "v2.0.0 deleted" in verdict and "ap50 dropped from" in verdict


def test_bad_eval_input_keeps_the_release(evaluated: Release) -> None:
    """cvat-fn eval's exit 2 (here a --minimum naming no metric) is not the model's failure:
    like a failed download or build, it leaves the release alone and pushes nothing."""
    evaluated.publish("v3.0.0", _opencv_cascade("haarcascade_frontalface_alt.xml"))
    evaluated.extra_env.update(
        CVAT_FN_TEST_ARGS="--cvat-fn-examples=3 -k starts",  # the suite is not what is tested
        CVAT_FN_EVAL_ARGS="--minimum nosuch=1 --no-progress",
    )
    before = len(evaluated.calls())
    done = evaluated.run("v3.0.0")
    assert done.returncode == 2, done.stdout[-6000:]
    assert "cvat-fn eval: --minimum nosuch: no such metric" in done.stdout, done.stdout[-3000:]
    assert "the evaluation could not run (exit 2): nothing pushed, the release is kept" in (
        done.stdout
    )
    calls = evaluated.calls()[before:]
    assert not [c for c in calls if c[:2] in (["release", "delete"], ["release", "upload"])]
    assert (evaluated.gh / "releases" / "v3.0.0").is_dir()
    assert (evaluated.gh / "tags").read_text().split() == ["v1.0.0", "v3.0.0"]
    assert tags(evaluated.registry, "evaluated") == ["v1.0.0"]
