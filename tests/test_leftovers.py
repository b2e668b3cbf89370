"""Nothing a run makes outlives it for long: temp directories of runs killed with ``kill -9``
go within seconds (their watchdog), or, where the watchdog was killed too, with the next run;
owners are told apart by host and PID namespace, so a live owner elsewhere never loses its
containers or directories."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.nuclio.runners import labels, reaper, scratch
from tests.test_cli_invoke import child_env

ROOT = Path(__file__).resolve().parents[1]
ECHO = ROOT / "tests" / "functions" / "echo"
PREFIX = "cvat-fn-fixtures-"
KILLED_RUNS = 20
REAL_PYTEST_RUNS = 3  # the rest are cheap processes that only make the directory

MAKE_AND_WAIT = """
import sys, time
from harness.nuclio.runners import watchdog
from harness.nuclio.runners.scratch import ScratchDir
print(ScratchDir(sys.argv[1]).path, watchdog.get().process.pid, flush=True)
time.sleep(600)
"""
BLOCKING_TEST = """
import signal

def test_blocks_until_killed():
    print("blocked", flush=True)
    signal.pause()
"""


def leftovers(tmp: Path) -> list[Path]:
    return sorted(tmp.glob(PREFIX + "*"))


def start(command: list[str], tmp: Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=dict(child_env(), TMPDIR=str(tmp)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_line(proc: subprocess.Popen[str], wanted: str) -> str:
    """Read the child's output until ``wanted`` (its readiness), or fail with what it said."""
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if wanted in line:
            return line
    pytest.fail(f"the child ended before {wanted!r}:\n{''.join(seen)}")


def gone_within(tmp: Path, seconds: float) -> list[Path]:
    """Poll until no leftover is there (a deadline, no fixed wait); what is left then."""
    deadline = time.monotonic() + seconds
    while leftovers(tmp) and time.monotonic() < deadline:
        time.sleep(0.05)
    return leftovers(tmp)


def kill_9(children: list[subprocess.Popen[str]]) -> None:
    for child in children:
        child.send_signal(signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


def test_twenty_kill_9_runs_leave_no_temp_directory(tmp_path: Path) -> None:
    """Each killed run's watchdog removes its directory within seconds, nothing run after."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    (tmp_path / "test_block.py").write_text(BLOCKING_TEST)
    pytest_run = [sys.executable, "-m", "pytest", "-s", "-p", "no:cacheprovider", "--function",
                  str(ECHO), str(tmp_path / "test_block.py")]  # fmt: skip
    children = [start(pytest_run, tmp, tmp_path) for _ in range(REAL_PYTEST_RUNS)]
    children += [
        start([sys.executable, "-c", MAKE_AND_WAIT, PREFIX], tmp, tmp_path)
        for _ in range(KILLED_RUNS - REAL_PYTEST_RUNS)
    ]
    try:
        for index, child in enumerate(children):
            wait_for_line(child, "blocked" if index < REAL_PYTEST_RUNS else PREFIX)
        assert len(leftovers(tmp)) == KILLED_RUNS
    finally:
        kill_9(children)
    assert gone_within(tmp, 30) == []


def test_the_next_run_sweeps_what_a_killed_watchdog_left(tmp_path: Path) -> None:
    """The second line: run and watchdog both killed with -9, the next run removes the
    directories (and only the dead owners')."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    children = [start([sys.executable, "-c", MAKE_AND_WAIT, PREFIX], tmp, tmp_path) for _ in "ab"]
    try:
        dogs = [int(wait_for_line(child, PREFIX).split()[1]) for child in children]
        for dog in dogs:
            os.kill(dog, signal.SIGKILL)
    finally:
        kill_9(children)
    assert len(leftovers(tmp)) == 2, "nothing was left to remove them"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--function", str(ECHO),
         "-k", "lint"],
        cwd=tmp_path, env=dict(child_env(), TMPDIR=str(tmp)), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert leftovers(tmp) == []


def owner_file(path: Path, owner: dict[str, str]) -> Path:
    path.mkdir()
    (path / scratch.OWNER_FILE).write_text(json.dumps(owner))
    return path


def dead_pid() -> int:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    return done.pid


def test_the_sweep_removes_only_dead_owners_directories(tmp_path: Path) -> None:
    mine = labels.owner_labels()
    dead = {**mine, labels.PID: str(dead_pid())}
    gone = owner_file(tmp_path / f"{PREFIX}dead", dead)
    kept = [
        owner_file(tmp_path / f"{PREFIX}live", mine),
        owner_file(tmp_path / f"{PREFIX}other-host", {**dead, labels.HOST: "elsewhere"}),
        owner_file(tmp_path / f"{PREFIX}other-ns", {**dead, labels.PID_NS: "pid:[1]"}),
        owner_file(tmp_path / "cvat-fn-other-prefix", dead),
    ]
    (tmp_path / f"{PREFIX}no-owner-file").mkdir()
    (tmp_path / f"{PREFIX}a-file").write_text("not a directory")
    (tmp_path / f"{PREFIX}a-link").symlink_to(gone)
    kept += [tmp_path / f"{PREFIX}no-owner-file", tmp_path / f"{PREFIX}a-file"]

    assert scratch.sweep(PREFIX, tmp_path) == [gone]
    assert not gone.exists()
    assert all(path.exists() for path in kept)


def test_a_scratch_directory_is_removed_by_its_owner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    made = scratch.ScratchDir(PREFIX)
    assert made.path.parent == tmp_path and (made.path / scratch.OWNER_FILE).exists()
    made.remove()
    made.remove()
    assert leftovers(tmp_path) == []


# --- process groups a killed owner adopted --------------------------------------------------

ADOPT_AND_WAIT = """
import subprocess, sys, time
from harness.nuclio.runners import watchdog
from harness.nuclio.runners.scratch import ScratchDir
made = ScratchDir(sys.argv[1])
server = subprocess.Popen(  # a server that does not watch its parent, with a worker of its own
    [sys.executable, "-c", "import subprocess, sys, time; "
     "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); time.sleep(600)"],
    start_new_session=True,
)
made.adopt(server.pid)
print(made.path, server.pid, watchdog.get().process.pid, flush=True)
time.sleep(600)
"""


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def adopted_servers(tmp_path: Path) -> tuple[subprocess.Popen[str], Path, int, int]:
    """An owner that adopted a server group (with a worker of its own): the owner, its
    scratch directory, the group and the owner's watchdog."""
    owner = start([sys.executable, "-c", ADOPT_AND_WAIT, PREFIX], tmp_path, tmp_path)
    assert owner.stdout is not None
    path, pgid, dog = owner.stdout.readline().split()
    group = int(pgid)
    deadline = time.monotonic() + 30
    while len(group_members(group)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # the server's own worker is starting
    assert len(group_members(group)) == 2
    return owner, Path(path), group, int(dog)


def kill_owner(owner: subprocess.Popen[str]) -> None:
    owner.send_signal(signal.SIGKILL)
    owner.wait()  # not communicate(): the servers hold its stdout open
    assert owner.stdout is not None
    owner.stdout.close()


def test_a_killed_owners_adopted_process_groups_are_ended_by_its_watchdog(tmp_path: Path) -> None:
    """tests/cvat_server's PostgreSQL, Redis and uvicorn are adopted process groups: a ``kill
    -9`` of the session leaves them to its watchdog, which ends them (workers included) and
    removes the directory within seconds, nothing run after."""
    owner, path, group, _ = adopted_servers(tmp_path)
    try:
        kill_owner(owner)
        deadline = time.monotonic() + 15
        while (group_members(group) or path.exists()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert group_members(group) == []
        assert not path.exists()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)


def test_a_killed_owners_adopted_process_groups_are_ended_by_the_sweep(tmp_path: Path) -> None:
    """The second line: owner and watchdog both killed with -9, the servers outlive them;
    the next session's sweep ends their groups (workers included) before removing the
    directory."""
    owner, path, group, dog = adopted_servers(tmp_path)
    try:
        os.kill(dog, signal.SIGKILL)
        kill_owner(owner)
        assert len(group_members(group)) == 2, "kill -9 of owner and watchdog leaves the servers"

        assert scratch.sweep(PREFIX, tmp_path) == [path]
        deadline = time.monotonic() + 10
        while group_members(group) and time.monotonic() < deadline:
            time.sleep(0.05)  # SIGKILL is delivered asynchronously
        assert group_members(group) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)


def test_the_sweep_leaves_a_group_whose_leader_pid_was_reused(tmp_path: Path) -> None:
    mine = labels.owner_labels()
    gone = owner_file(tmp_path / f"{PREFIX}dead", {**mine, labels.PID: str(dead_pid())})
    stranger = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        recorded = [{"pid": stranger.pid, "start": "another-boot/1"}]  # not this process
        (gone / scratch.PROCESSES_FILE).write_text(json.dumps(recorded))
        assert scratch.sweep(PREFIX, tmp_path) == [gone]
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


# --- PID namespaces -------------------------------------------------------------------------

IN_NAMESPACE = """
import json, sys
from harness.nuclio.runners import labels
outside = json.loads(sys.argv[1])
print(json.dumps({"labels": labels.owner_labels(), "judges_outside": labels.owner_alive(outside)}),
      flush=True)
sys.stdin.read()  # live until the test closes stdin
"""


def unshare_unavailable() -> str | None:
    if shutil.which("unshare") is None:
        return "needs unshare (util-linux)"
    probe = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return f"unshare --pid is not permitted here: {probe.stderr.strip()}"
    return None


@pytest.fixture
def owner_in_another_namespace() -> Iterator[dict[str, Any]]:
    """A live process in a new PID namespace (as in another CI job's container), same host."""
    reason = unshare_unavailable()
    if reason:
        pytest.skip(reason)
    child = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", IN_NAMESPACE,
         json.dumps(labels.owner_labels())],
        env=child_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout is not None and child.stdin is not None
    try:
        yield json.loads(child.stdout.readline())
    finally:
        child.stdin.close()
        child.wait(30)


def test_owners_in_different_pid_namespaces_are_told_apart(
    owner_in_another_namespace: dict[str, Any],
) -> None:
    theirs = owner_in_another_namespace["labels"]
    assert theirs[labels.HOST] == labels.owner_labels()[labels.HOST]  # same hostname
    assert theirs[labels.PID_NS] != labels.pid_namespace()
    # Its pid (1 or 2 in its namespace) is some other process here: not ours to judge.
    assert labels.owner_alive(theirs) is None
    assert owner_in_another_namespace["judges_outside"] is None
    # Without the namespace label, that pid would be judged here, and the live owner's
    # things taken for a dead owner's.
    legacy = {k: v for k, v in theirs.items() if k != labels.PID_NS}
    assert labels.owner_alive(legacy) is False


def test_a_directory_of_another_namespace_is_not_swept(
    owner_in_another_namespace: dict[str, Any], tmp_path: Path
) -> None:
    theirs = owner_file(tmp_path / f"{PREFIX}theirs", owner_in_another_namespace["labels"])
    assert scratch.sweep(PREFIX, tmp_path) == []
    assert theirs.exists()


@pytest.mark.docker
def test_the_reaper_keeps_a_container_of_another_namespace(
    owner_in_another_namespace: dict[str, Any],
) -> None:
    import docker.errors

    from harness.nuclio.runners.docker import default_base_image, docker_available, docker_client

    reason = docker_available()
    if reason:
        pytest.skip(reason)
    client = docker_client()
    theirs = client.containers.create(
        default_base_image(), ["sleep", "300"], labels=owner_in_another_namespace["labels"]
    )
    try:
        assert theirs.name not in reaper.reap(client)
        client.containers.get(theirs.id)  # still there
    finally:
        with contextlib.suppress(docker.errors.APIError):
            theirs.remove(force=True)


# --- the workers' socket directories --------------------------------------------------------

HOLD_A_PROCESSOR = """
import sys, time
from harness.nuclio.runners.process import ProcessRunner
running = ProcessRunner().start(sys.argv[1])
print("processor", running.proc.pid, flush=True)
time.sleep(600)
"""


def start_processor(tmp: Path, cwd: Path) -> tuple[subprocess.Popen[str], int]:
    child = start([sys.executable, "-c", HOLD_A_PROCESSOR, str(ECHO)], tmp, cwd)
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("processor "):
            return child, int(line.split()[1])
    pytest.fail("the child ended before its processor was ready")


def socket_dirs(tmp: Path) -> list[Path]:
    """The workers' socket directories (not a runner's scratch one named cvat-fn-w... by
    chance: sockdirs.is_socket_dir)."""
    from harness.nuclio.runtime.sockdirs import is_socket_dir

    return sorted(p for p in tmp.glob("cvat-fn-w*") if is_socket_dir(p.name))


def test_a_processor_killed_with_kill_9_leaves_socket_dirs_the_next_one_sweeps(
    tmp_path: Path,
) -> None:
    # harness/nuclio/runtime/sockdirs.py: the echo function has two workers, one directory each
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    child, processor = start_processor(tmp, tmp_path)
    try:
        left = socket_dirs(tmp)
        assert len(left) == 2, left
        os.kill(processor, signal.SIGKILL)
    finally:
        child.terminate()
        child.communicate(timeout=30)
    assert socket_dirs(tmp) == left, "kill -9 cannot be caught: the directories stay"

    child, _ = start_processor(tmp, tmp_path)
    try:
        now = socket_dirs(tmp)
        assert len(now) == 2 and not set(now) & set(left), (left, now)
    finally:
        child.terminate()
        child.communicate(timeout=30)
    assert socket_dirs(tmp) == []  # a processor that stops removes its own


def test_the_socket_dir_sweep_removes_only_dead_owners(tmp_path: Path) -> None:
    from harness.nuclio.runtime import sockdirs

    namespace = os.readlink("/proc/self/ns/pid")

    def owned(name: str, owner: str | None) -> Path:
        path = tmp_path / name
        path.mkdir()
        if owner is not None:
            (path / sockdirs.OWNER_FILE).write_text(owner)
        return path

    gone = owned("cvat-fn-w0-dead", f"{dead_pid()} - {namespace}")
    # a live pid whose start time differs is a reused pid: its owner has ended
    reused = owned("cvat-fn-w0-reused", f"{os.getpid()} 1 {namespace}")
    kept = [
        owned("cvat-fn-w0-live", f"{os.getpid()} - {namespace}"),
        owned("cvat-fn-w0-other-ns", f"{dead_pid()} - pid:[1]"),
        owned("cvat-fn-w0-no-owner", None),
        owned("cvat-fn-other", f"{dead_pid()} - {namespace}"),
    ]
    assert sorted(sockdirs.sweep(str(tmp_path))) == sorted([str(gone), str(reused)])
    assert not gone.exists() and not reused.exists() and all(path.exists() for path in kept)
