"""What a newcomer trips over first: options in any order, one JSON document even when the
function does not start, one traceback per distinct failure, a hint for a missing module,
``serve --port`` under docker."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests

from harness.cli import build_parser
from tests.test_cli_invoke import ASTRONAUT, child_env, invoke, serve

HERE = Path(__file__).parent
FUNCTIONS = HERE / "functions"
TRACEBACK = "Traceback (most recent call last)"


@pytest.fixture
def docker_ready() -> None:
    from harness.nuclio.runners.docker import docker_available

    reason = docker_available()
    if reason:
        pytest.skip(reason)


def write_function(directory: Path, main_py: str, workers: int = 1) -> Path:
    """A detector function directory with the given main.py."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "function.yaml").write_text(
        textwrap.dedent(f"""\
            metadata:
              name: {directory.name}
              annotations:
                type: detector
                spec: '[{{"id": 0, "name": "thing", "type": "rectangle"}}]'
            spec:
              runtime: 'python:3.11'
              handler: main:handler
              triggers:
                myHttpTrigger:
                  kind: http
                  numWorkers: {workers}
            """)
    )
    (directory / "main.py").write_text(textwrap.dedent(main_py))
    return directory


# --- cvat-fn test: options for pytest before DIR --------------------------------------------


def parse_test(*argv: str) -> tuple[str, list[str]]:
    args, extra = build_parser().parse_known_args(["test", *argv])
    assert extra == []
    return args.directory, args.pytest_args


@pytest.mark.parametrize(
    ("argv", "directory", "to_pytest"),
    [
        (["-k", "thr", "./my_model"], "./my_model", ["-k", "thr"]),
        (["./my_model", "-k", "thr"], "./my_model", ["-k", "thr"]),
        (["-xk", "thr", "d", "-rs"], "d", ["-xk", "thr", "-rs"]),
        (["-kthr", "d", "own_test.py"], "d", ["-kthr", "own_test.py"]),
        (["--budget", "p95_ms=5", "d", "--runtime", "docker"], "d", ["--budget", "p95_ms=5"]),
        (["-m", "slow"], ".", ["-m", "slow"]),
        (["d", "--", "-k", "x"], "d", ["-k", "x"]),
    ],
)
def test_test_splits_its_own_arguments_from_pytests(
    argv: list[str], directory: str, to_pytest: list[str]
) -> None:
    assert parse_test(*argv) == (directory, to_pytest)


def test_a_plugins_option_with_a_value_is_known_too() -> None:
    # Hypothesis's pytest plugin (an installed pytest11 entry point) takes a value.
    assert parse_test("--hypothesis-seed", "3", "d") == ("d", ["--hypothesis-seed", "3"])


def test_k_before_dir_reaches_pytest(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "test", "-k", "lint", str(FUNCTIONS / "echo"),
         "--report-dir", str(tmp_path)],
        env=child_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    assert [case.get("name") for case in suite.iter("testcase")] == ["lint"]


# --- invoke --json when the function does not start ----------------------------------------


def test_json_on_a_start_failure_is_one_document() -> None:
    done = invoke(ASTRONAUT, "--function", FUNCTIONS / "init_fails", "--json")
    assert done.returncode == 1
    document = json.loads(done.stdout)
    assert document["ok"] is False and document["started"] is False
    assert "did not start" in document["error"]
    assert "model.xml is missing from the function directory" in document["error"]
    assert document["requests"] == [] and document["function"] == "init-fails"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--url", "http://127.0.0.1:1", "--kind", "detector"), "cannot connect"),
        (("no_such.jpg", "--function", str(FUNCTIONS / "echo")), "no_such.jpg"),
    ],
    ids=["unreachable-url", "missing-image"],
)
def test_json_on_bad_input_is_one_document(args: tuple[str, ...], error: str) -> None:
    done = invoke(ASTRONAUT, *args, "--json")
    assert done.returncode == 2
    document = json.loads(done.stdout)
    assert document["ok"] is False and error in document["error"]
    assert len(done.stderr.strip().splitlines()) == 1 and error in done.stderr


# --- one traceback per distinct failure -----------------------------------------------------


def test_the_same_init_failure_in_two_workers_prints_one_traceback() -> None:
    # broken_init has numWorkers 2; both workers fail alike.
    done = invoke(ASTRONAUT, "--function", FUNCTIONS / "broken_init")
    assert done.returncode == 1
    assert done.stderr.count(TRACEBACK) == 1, done.stderr
    assert "failed the same way (FileNotFoundError: weights/face-v2.onnx" in done.stderr


def test_different_failures_in_two_workers_keep_both_tracebacks(tmp_path: Path) -> None:
    main_py = """\
        def init_context(context):
            raise RuntimeError("worker %s has no GPU" % context.worker_id)


        def handler(context, event):
            return "never"
        """
    function = write_function(tmp_path / "per_worker", main_py, workers=2)
    done = invoke(ASTRONAUT, "--function", function)
    assert done.returncode == 1
    assert done.stderr.count(TRACEBACK) == 2, done.stderr
    assert "worker 0 has no GPU" in done.stderr and "worker 1 has no GPU" in done.stderr
    assert "the same way" not in done.stderr


# --- ModuleNotFoundError: which environment the runner used ---------------------------------

MISSING_MODULE_PY = """\
    import cvat_fn_no_such_module  # the model's framework, not installed here


    def handler(context, event):
        return "never"
    """


def test_missing_module_under_the_process_runner_hints_at_docker(tmp_path: Path) -> None:
    function = write_function(tmp_path / "needs_module", MISSING_MODULE_PY)
    done = invoke(ASTRONAUT, "--function", function)
    assert done.returncode == 1
    hint = [line for line in done.stderr.splitlines() if line.startswith("hint:")]
    assert len(hint) == 1, done.stderr
    assert "No module named 'cvat_fn_no_such_module'" in hint[0]
    assert "current Python environment" in hint[0] and "--runtime docker" in hint[0]


def test_a_relative_pythonpath_reaches_the_workers(tmp_path: Path) -> None:
    # PYTHONPATH=lib cvat-fn invoke ...: as for python itself, relative to where it was typed,
    # although the workers run in the function's directory.
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "shared_model.py").write_text("BOXES = [[1, 2, 30, 40]]\n")
    main_py = """\
        import json

        import shared_model


        def handler(context, event):
            shapes = [{"label": "thing", "type": "rectangle", "points": box, "confidence": "1"}
                      for box in shared_model.BOXES]
            return context.Response(body=json.dumps(shapes), content_type="application/json",
                                     status_code=200)
        """
    function = write_function(tmp_path / "uses_lib", main_py)
    env = dict(child_env(), PYTHONPATH=os.pathsep.join(["lib", child_env()["PYTHONPATH"]]))
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "invoke", str(ASTRONAUT), "--function",
         str(function), "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["requests"][0]["shapes"][0]["points"] == [1, 2, 30, 40]


def test_no_hint_without_a_missing_module() -> None:
    done = invoke(ASTRONAUT, "--function", FUNCTIONS / "init_fails")
    assert done.returncode == 1 and "hint:" not in done.stderr


@pytest.mark.docker
def test_missing_module_in_the_image_hints_at_build_directives(
    tmp_path: Path, docker_ready: None
) -> None:
    function = write_function(tmp_path / "needs_module", MISSING_MODULE_PY)
    done = invoke(ASTRONAUT, "--function", function, "--runtime", "docker")
    assert done.returncode == 1
    hint = [line for line in done.stderr.splitlines() if line.startswith("hint:")]
    assert len(hint) == 1, done.stderr
    assert "in the function's image" in hint[0] and "spec.build.directives" in hint[0]


# --- serve --port under docker --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.docker
def test_serve_port_is_honoured_under_docker(tmp_path: Path, docker_ready: None) -> None:
    port = free_port()
    served = serve(
        FUNCTIONS / "docker_echo", tmp_path / "stderr.txt", "--runtime", "docker", "--port",
        str(port),
    )  # fmt: skip
    try:
        assert served.url == f"http://127.0.0.1:{port}", served.stderr.read_text()
        answer = requests.post(served.url, json={"image": "x"}, timeout=30)
        assert answer.status_code == 200 and answer.json()["function_name"] == "docker-echo"
    finally:
        assert served.stop() == 0, served.stderr.read_text()
