"""The docker runner against the real engine: build, run, reach over 127.0.0.1, clean up.

Needs the local base image (scripts/build-base-image.sh; .ci/run builds it first).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from harness.runners import labels
from harness.runners.base import StartError
from harness.runners.docker import DockerRunner, docker_available, docker_client
from harness.runners.image import (
    START_COMMAND,
    BaseImage,
    BuildError,
    directive_steps,
    make_context,
)
from harness.spec import Volume, load_spec

pytestmark = pytest.mark.docker

FUNCTIONS = Path(__file__).parent / "functions"
ECHO = FUNCTIONS / "docker_echo"
SOME_BASE = BaseImage("some/base:1", "sha256:0")


@pytest.fixture(scope="module")
def client() -> Any:
    reason = docker_available()
    if reason:
        pytest.skip(reason)
    return docker_client()


@pytest.fixture
def runner(client: Any) -> DockerRunner:
    return DockerRunner(client=client, progress=lambda message: None)


def _container_exists(client: Any, container_id: str) -> bool:
    import docker.errors

    try:
        client.containers.get(container_id)
    except docker.errors.NotFound:
        return False
    return True


def _eventually(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _copy_with(tmp_path: Path, **build: Any) -> Path:
    """docker_echo with spec.build replaced, as a new function directory."""
    target = tmp_path / "fn"
    shutil.copytree(ECHO, target)
    data = yaml.safe_load((target / "function.yaml").read_text())
    data["spec"]["build"] = build
    (target / "function.yaml").write_text(yaml.safe_dump(data))
    return target


def test_build_run_request_stop(runner: DockerRunner, client: Any, tmp_path: Path) -> None:
    (tmp_path / "note.txt").write_text("from a hostPath volume")
    spec = load_spec(ECHO)
    spec.volumes = [Volume("notes", str(tmp_path), "/mnt/echo-volume")]

    running = runner.start(ECHO, spec)
    container_id = running.container.id  # type: ignore[attr-defined]
    try:
        assert running.url.startswith("http://127.0.0.1:")
        answer = requests.post(running.url, json={"ping": 1}, timeout=10)
        assert answer.status_code == 200, answer.text
        data = answer.json()
        assert data["body"] == {"ping": 1}
        assert data["greeting"] == "hello from function.yaml"
        assert data["function_name"] == "docker-echo"
        assert data["baked_by"] == "preCopy"
        assert data["pre_copy"] == "written by a preCopy directive"
        assert data["post_copy"] == "postCopy sees the function"
        assert data["volume"] == "from a hostPath volume"
        if data["cgroup_cpu"] is not None:  # 1500m of a 100ms period (v1) or "150000 100000"
            assert data["cgroup_cpu"].split()[0] == "150000"
        if data["cgroup_memory"] is not None:
            assert data["cgroup_memory"] == str(300 * 2**20)

        attrs = client.containers.get(container_id).attrs
        bindings = attrs["HostConfig"]["PortBindings"]
        assert {b["HostIp"] for v in bindings.values() for b in v} == {"127.0.0.1"}
        container_labels = attrs["Config"]["Labels"]
        assert container_labels[labels.SESSION] == labels.session_id()
        assert container_labels[labels.PID] == str(os.getpid())
        assert running.ready_seconds > 0
        # The runtime's JSON log records reach the log buffer (a thread follows the container).
        assert _eventually(lambda: any('"level"' in line for line in running.logs.lines()))
    finally:
        running.stop()
    assert not _container_exists(client, container_id)
    running.stop()  # twice is fine


def test_unchanged_function_is_not_rebuilt(runner: DockerRunner, client: Any) -> None:
    with runner.start(ECHO) as first:
        first_image = first.image_id  # type: ignore[attr-defined]
    builds = runner.builds
    with runner.start(ECHO) as second:
        assert second.image_id == first_image  # type: ignore[attr-defined]
        assert second.built is False  # type: ignore[attr-defined]
        assert requests.get(second.url, timeout=10).status_code == 200
    assert runner.builds == builds


def test_changed_function_is_rebuilt(runner: DockerRunner, tmp_path: Path) -> None:
    directory = tmp_path / "fn"
    shutil.copytree(ECHO, directory)
    context_before = make_context(load_spec(directory), SOME_BASE)
    (directory / "extra.txt").write_text("a new file")
    context_after = make_context(load_spec(directory), SOME_BASE)
    assert context_before.digest != context_after.digest
    (directory / "__pycache__").mkdir()
    (directory / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    assert make_context(load_spec(directory), SOME_BASE).digest == context_after.digest


def test_failing_directive_is_named_with_its_output(runner: DockerRunner, tmp_path: Path) -> None:
    directory = _copy_with(
        tmp_path,
        directives={
            "preCopy": [
                {"kind": "ENV", "value": "STAGE=one"},
                {"kind": "RUN", "value": "echo fetching the weights && exit 3"},
            ]
        },
    )
    with pytest.raises(BuildError) as failure:
        runner.start(directory)
    message = str(failure.value)
    assert "spec.build.directives.preCopy[1]" in message
    assert "RUN echo fetching the weights && exit 3" in message
    assert "fetching the weights" in message.split("output of that step:")[1]
    assert "non-zero code: 3" in message


def test_commands_replace_directives_and_split_at_postcopy(tmp_path: Path) -> None:
    directory = _copy_with(
        tmp_path,
        commands=["echo one \\", "two", "@nuclio.postCopy", "echo three"],
        directives={"preCopy": [{"kind": "RUN", "value": "echo ignored"}]},
    )
    pre, post = directive_steps(load_spec(directory))
    assert [s.instruction for s in pre] == ["RUN echo one two"]
    assert [s.instruction for s in post] == ["RUN echo three"]
    assert pre[0].origin == "spec.build.commands[0-1]"
    dockerfile = make_context(load_spec(directory), SOME_BASE).dockerfile
    lines = dockerfile.splitlines()
    assert lines.index("RUN echo one two") < lines.index("COPY root/ /")
    assert lines.index("COPY root/ /") < lines.index("RUN echo three")
    assert "echo ignored" not in dockerfile


def _ours(client: Any) -> set[str]:
    """This run's containers only: other runs on the same engine come and go meanwhile."""
    session = f"{labels.SESSION}={labels.session_id()}"
    return {c.id for c in client.containers.list(all=True, filters={"label": session})}


def test_init_failure_raises_start_error_with_logs(runner: DockerRunner, client: Any) -> None:
    before = _ours(client)
    with pytest.raises(StartError) as failure:
        runner.start(FUNCTIONS / "init_fails", readiness_timeout=60)
    message = str(failure.value)
    assert "before it was ready" in message
    assert "model.xml is missing from the function directory" in message
    leftover = _ours(client) - before
    assert not leftover


def test_missing_base_image_says_how_to_get_one(runner: DockerRunner, tmp_path: Path) -> None:
    directory = _copy_with(tmp_path, baseImage="ubuntu:22.04")
    custom = DockerRunner(
        "cvat-fn/no-such-base:0", client=runner.client, progress=lambda message: None
    )
    with pytest.raises(BuildError, match="build-base-image.sh"):
        custom.start(directory)


def test_gpu_limit_without_gpu_runtime_is_a_clear_error(runner: DockerRunner, client: Any) -> None:
    if "nvidia" in (client.info().get("Runtimes") or {}):
        pytest.skip("this engine has an NVIDIA runtime")
    spec = load_spec(ECHO)
    spec.resources = {"limits": {"nvidia.com/gpu": 1}}
    before = _ours(client)
    with pytest.raises(StartError, match="nvidia.com/gpu") as failure:
        runner.start(ECHO, spec)
    assert "GPU" in str(failure.value)
    assert _ours(client) == before


def test_build_output_reports_steps(client: Any, tmp_path: Path) -> None:
    messages: list[str] = []
    marker = uuid.uuid4().hex  # a new RUN, so Docker's layer cache cannot skip it
    directory = _copy_with(
        tmp_path, directives={"preCopy": [{"kind": "RUN", "value": f"echo {marker}"}]}
    )
    runner = DockerRunner(client=client, progress=messages.append, verbose=True)
    with runner.start(directory) as running:
        assert running.built  # type: ignore[attr-defined]
    client.images.remove(running.image)  # type: ignore[attr-defined]  # a tmp dir's image
    steps = [m for m in messages if ": step " in m]
    first = re.search(r"step 1/(\d+) : FROM (\S+)$", steps[0])
    assert first, steps
    total = int(first.group(1))
    assert first.group(2) == runner.base_for(load_spec(directory))
    assert steps[-1].split(": step ")[1].startswith(f"{total}/{total} : ")
    assert any(m.strip() == marker for m in messages)  # the RUN's own output, verbose


def test_image_layout(runner: DockerRunner, client: Any) -> None:
    spec = load_spec(ECHO)
    tag, image_id, _ = runner.ensure_image(spec)
    config = client.images.get(image_id).attrs["Config"]
    assert config["Labels"][labels.MANAGED] == "true"
    assert config["Cmd"] == START_COMMAND
    assert "/ready" in " ".join(config["Healthcheck"]["Test"])
    assert tag.startswith("cvat-fn/docker-echo-")

    # On the local base image CMD, HEALTHCHECK and the label are inherited: no extra steps.
    base = client.images.get(runner.base_for(spec))
    ours = make_context(spec, BaseImage(runner.base_for(spec), base.id, base.attrs["Config"]))
    assert ours.steps[-1].instruction.startswith("RUN test -f /opt/nuclio/main.py")
    other = make_context(spec, SOME_BASE)
    assert other.steps[-1].instruction == "LABEL org.cvat-fn.managed=true"
    assert other.dockerfile.startswith("FROM some/base:1\n")
    config_json = json.loads(other.files["root/opt/cvat-fn/config.json"])  # type: ignore[arg-type]
    assert config_json["function_dir"] == "/opt/nuclio"


EDITED_HANDLER = """

_served_before_the_edit = handler


def handler(context, event):  # noqa: F811 - the edit under test
    if event.path == "/edited":
        return "edited: " + ",".join(sorted(os.listdir("/opt/nuclio")))
    return _served_before_the_edit(context, event)
"""


def test_edited_code_is_served_by_the_next_start_without_a_build(
    client: Any, tmp_path: Path
) -> None:
    # Mounted code: the image is what function.yaml decides; main.py is linked in at start.
    directory = tmp_path / "fn"
    shutil.copytree(FUNCTIONS / "echo", directory)
    (directory / "gone.txt").write_text("deleted before the second start")
    runner = DockerRunner(client=client, code="mount", progress=lambda message: None)
    try:
        with runner.start(directory) as first:
            image_id = first.image_id  # type: ignore[attr-defined]
            assert requests.get(first.url + "/edited", timeout=10).text != "edited"
        builds = runner.builds
        with (directory / "main.py").open("a") as main:
            main.write(EDITED_HANDLER)
        (directory / "gone.txt").unlink()
        (directory / "new.txt").write_text("added after the image was built")
        with runner.start(directory) as second:
            assert second.built is False  # type: ignore[attr-defined]
            assert second.image_id == image_id  # type: ignore[attr-defined]
            answer = requests.get(second.url + "/edited", timeout=10)
        assert runner.builds == builds
        assert answer.status_code == 200, answer.text
        files = answer.text.removeprefix("edited: ").split(",")
        assert "new.txt" in files and "helper.py" in files and "main.py" in files
        assert "gone.txt" not in files  # baked into the image, no longer in the directory
    finally:
        _remove_images(client, directory)


def test_a_build_directive_change_still_rebuilds_with_mounted_code(
    client: Any, tmp_path: Path
) -> None:
    directory = tmp_path / "fn"
    shutil.copytree(FUNCTIONS / "echo", directory)
    runner = DockerRunner(client=client, code="mount", progress=lambda message: None)
    try:
        with runner.start(directory) as first:
            image_id = first.image_id  # type: ignore[attr-defined]
        data = yaml.safe_load((directory / "function.yaml").read_text())
        marker = uuid.uuid4().hex
        data["spec"]["build"] = {
            "directives": {"postCopy": [{"kind": "ENV", "value": f"M={marker}"}]}
        }
        (directory / "function.yaml").write_text(yaml.safe_dump(data))
        with runner.start(directory) as second:
            assert second.built is True  # type: ignore[attr-defined]
            assert second.image_id != image_id  # type: ignore[attr-defined]
            assert requests.get(second.url + "/str", timeout=10).status_code == 200
    finally:
        _remove_images(client, directory)


def test_a_file_a_directive_names_is_part_of_the_mounted_image(tmp_path: Path) -> None:
    directory = _copy_with(
        tmp_path, directives={"postCopy": [{"kind": "RUN", "value": "cat requirements.txt"}]}
    )
    (directory / "requirements.txt").write_text("numpy\n")
    before = make_context(load_spec(directory), SOME_BASE, code_mounted=True).digest
    (directory / "main.py").write_text((directory / "main.py").read_text() + "\n# an edit\n")
    assert make_context(load_spec(directory), SOME_BASE, code_mounted=True).digest == before
    (directory / "requirements.txt").write_text("numpy\npillow\n")
    assert make_context(load_spec(directory), SOME_BASE, code_mounted=True).digest != before


def test_cvat_fn_build_and_ci_copy_the_code_in(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.cli import main as cli

    directory = tmp_path / "fn"
    shutil.copytree(FUNCTIONS / "echo", directory)
    try:
        assert cli(["build", str(directory)]) == 0
        tag = _tags(client, directory)
        assert len(tag) == 1 and not tag[0].rpartition(":")[2].startswith("dev-")
        baked = client.containers.run(tag[0], ["cat", "/opt/nuclio/main.py"], remove=True)
        assert baked.decode() == (directory / "main.py").read_text()
        (directory / "main.py").write_text((directory / "main.py").read_text() + "\n# edit\n")
        assert cli(["build", str(directory)]) == 0  # a code edit is a new image here
        assert len(_tags(client, directory)) == 1  # and the older one was pruned

        monkeypatch.setenv("CI", "true")  # GitHub Actions sets it: test what ships
        monkeypatch.delenv("CVAT_FN_DOCKER_CODE", raising=False)
        runner = DockerRunner(client=client, progress=lambda message: None)
        assert runner.code == "copy"
        with runner.start(directory) as running:
            assert running.built is False  # type: ignore[attr-defined]  # the built one
            mounts = running.container.attrs["Mounts"]  # type: ignore[attr-defined]
            assert not [m for m in mounts if m["Destination"] == "/opt/cvat-fn/code"]
        monkeypatch.setenv("CVAT_FN_DOCKER_CODE", "mount")
        assert DockerRunner(client=client).code == "mount"
        monkeypatch.setenv("CVAT_FN_DOCKER_CODE", "bake")
        with pytest.raises(StartError, match="CVAT_FN_DOCKER_CODE='bake'"):
            DockerRunner(client=client)
    finally:
        _remove_images(client, directory)


def _tags(client: Any, directory: Path) -> list[str]:
    from harness.runners.image import repository

    name = repository(load_spec(directory))
    # One image may carry other repositories' tags too: the same echo built from
    # another directory has the same content, so the same id.
    found = client.images.list(name=name)
    return [t for i in found for t in i.tags if t.rpartition(":")[0] == name]


def _remove_images(client: Any, directory: Path) -> None:
    """A tmp directory's images: nothing else will use them."""

    for tag in _tags(client, directory):
        client.images.remove(tag)  # by tag: the id may be shared with another test's image
