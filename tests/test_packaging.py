"""What ``pip install cvat-fn`` brings: only what cvat-fn itself imports. OpenCV (the samples'
model) and the Docker SDK (the docker runner) are extras, and asking for the docker runner
without its extra says which one to install."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import requires

from packaging.requirements import Requirement


def core_requirements() -> set[str]:
    found = set()
    for text in requires("cvat-fn") or []:
        requirement = Requirement(text)
        if requirement.marker is None or not str(requirement.marker).startswith("extra"):
            found.add(requirement.name.lower())
    return found


def extra(name: str) -> set[str]:
    return {
        Requirement(text).name.lower()
        for text in requires("cvat-fn") or []
        if Requirement(text).marker is not None
        and Requirement(text).marker.evaluate({"extra": name})  # type: ignore[union-attr]
    }


def test_the_core_install_carries_no_opencv_and_no_docker_sdk():
    core = core_requirements()
    assert not {name for name in core if name.startswith("opencv")}
    assert "docker" not in core
    assert "opencv-python-headless" in extra("samples")
    assert "docker" in extra("docker")


def test_cvat_fn_imports_neither_opencv_nor_docker_to_run_the_process_runner(tmp_path):
    # A Python where cv2 and docker cannot be imported: the CLI, the plugin and the process
    # runner still load, and the docker runner names the extra to install.
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('cv2', 'docker'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    code = (
        "import harness.cli, harness.suite.plugin, harness.nuclio.runners.process\n"
        "from harness.nuclio.runners import make_runner, RunnerUnavailable\n"
        "try:\n"
        "    make_runner('docker')\n"
        "except RunnerUnavailable as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "--runtime docker: the docker runner needs the Docker SDK for Python, which is an extra:"
        " pip install 'cvat-fn[docker]'"
    )
