"""The docker runner pulls a missing base image, as ``docker build`` and ``nuctl deploy`` do,
with progress shown; ``--no-pull`` keeps it offline, and a failed pull says what to do.

Tested against a real registry: Debian's docker-registry on 127.0.0.1 (tests/registry.py), the
local base image pushed to it, then a function whose baseImage names it, run with no
--base-image.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
import requests
import yaml

from harness.nuclio.runners.docker import DockerRunner, default_base_image, docker_available
from harness.nuclio.runners.image import BuildError
from tests.conftest import copy_function

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def client() -> Any:
    reason = docker_available()
    if reason:
        pytest.skip(reason)
    return docker.from_env(timeout=600)


@pytest.fixture
def pushed_base(client: Any, registry: str) -> Iterator[str]:
    """The local base image, pushed to the registry and then gone from this machine by that
    name: a function built on it needs a pull."""
    reference = f"{registry}/cvat-fn-test/python:{uuid.uuid4().hex[:12]}"
    base = client.images.get(default_base_image())
    repository, tag = reference.rsplit(":", 1)
    base.tag(repository, tag)
    for event in client.api.push(repository, tag=tag, stream=True, decode=True):
        assert "error" not in event, event
    client.images.remove(reference)
    yield reference
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.remove(reference)


def function_on(tmp_path: Path, base: str) -> Path:
    directory = copy_function(tmp_path, "docker_echo")
    data = yaml.safe_load((directory / "function.yaml").read_text())
    data["spec"]["build"]["baseImage"] = base
    (directory / "function.yaml").write_text(yaml.safe_dump(data))
    return directory


def test_a_missing_base_image_is_pulled_with_progress(client, pushed_base, tmp_path):
    shown: list[str] = []
    runner = DockerRunner(client=client, progress=shown.append)
    with runner.start(function_on(tmp_path, pushed_base)) as running:
        assert requests.post(running.url, json={}, timeout=30).status_code == 200
    assert client.images.get(pushed_base)  # pulled, now on this machine
    pulling = [line for line in shown if line.startswith(f"pulling {pushed_base}")]
    assert pulling, shown
    assert any(
        "Downloaded newer image" in line or "Image is up to date" in line for line in pulling
    )


def test_no_pull_says_what_to_do_instead(client, pushed_base, tmp_path):
    runner = DockerRunner(client=client, pull=False, progress=lambda message: None)
    with pytest.raises(BuildError) as failure:
        runner.start(function_on(tmp_path, pushed_base))
    message = str(failure.value)
    assert f"the base image {pushed_base} is not on this machine" in message
    assert "scripts/build-base-image.sh" in message
    assert "--base-image IMAGE" in message
    assert "(not pulled: --no-pull)" in message


def test_a_failed_pull_names_the_way_out(client, registry, tmp_path):
    missing = f"{registry}/cvat-fn-test/nothing:{uuid.uuid4().hex[:12]}"
    runner = DockerRunner(client=client, progress=lambda message: None)
    with pytest.raises(BuildError) as failure:
        runner.start(function_on(tmp_path, missing))
    message = str(failure.value)
    assert "pulling it failed" in message
    assert "not found" in message.lower() or "manifest unknown" in message.lower()
    assert "--base-image IMAGE" in message and "scripts/build-base-image.sh" in message
