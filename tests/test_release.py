"""ci/release.sh of a repository from `cvat-fn new`, run for real: the model's image is built
and tested in Docker and pushed to a real registry (Debian's docker-registry on 127.0.0.1).
GitHub cannot be reached, so `gh` is a stand-in (tests/standins/gh.py) that serves the
release's assets from a folder and records uploads and deletions.

One good release, then one bad one on the same repository, so the bad one reuses the good
one's image layers (only the weights layer is rebuilt).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from registry import digest, local_registry, registry_unavailable, tags

from harness.runners.docker import docker_available

pytestmark = pytest.mark.docker

HERE = Path(__file__).resolve().parent
BASE_IMAGE = os.environ.get("CVAT_FN_BASE_IMAGE", "cvat-fn/python:3.11-bookworm")
CASCADE = "haarcascade_frontalface_default.xml"
NAME = "release-gate-demo"


@dataclass
class Release:
    repo: Path
    registry: str
    gh: Path  # the stand-in's state: releases/<tag>/, tags, calls.jsonl
    env: dict[str, str]

    @property
    def image(self) -> str:
        return f"{self.registry}/model"

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


def _skip_reason() -> str | None:
    return docker_available() or registry_unavailable()


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("release")
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
    with local_registry() as address:
        state = Release(repo, address, gh_state, env)
        try:
            yield state
        finally:
            _remove_images(state)


def _remove_images(state: Release) -> None:
    """The model's images and the function images built on them."""
    listed = subprocess.run(
        ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    ours = [
        ref
        for ref in listed.stdout.split()
        if ref.startswith((state.image + ":", f"cvat-fn/{NAME}-"))
    ]
    if ours:
        subprocess.run(["docker", "image", "rm", "--force", *ours], capture_output=True)


def test_a_good_release_is_pushed_pinned_and_kept(release: Release) -> None:
    weights = (release.repo / "weights" / CASCADE).read_bytes()  # the demo model's cascade
    release.publish("v1.0.0", weights)
    done = release.run("v1.0.0")
    assert done.returncode == 0, done.stdout[-6000:]

    assert tags(release.registry, "model") == ["v1.0.0"]
    pushed = digest(release.registry, "model", "v1.0.0")
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

    assert tags(release.registry, "model") == ["v1.0.0"]  # nothing pushed for v1.0.1
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
