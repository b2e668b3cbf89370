"""The runtime under faults (README, "What the runtime guarantees"): a stalled or vanished
client, a worker that will not start again, a re-init that never ends, a malformed answer from
a foreign wrapper, and all of them mixed. Each fault is real: a socket that stops sending, a
socket directory that cannot be made (TMPDIR removed under the processor), an init_context that
sleeps, a worker script that writes odd lines. On the host only: the processor is the same code
in a container, and these tests hold the machine's two cores long enough as it is."""

from __future__ import annotations

import os
import random
import shutil
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from harness.nuclio.runners.base import RunningFunction
from harness.nuclio.runners.process import ProcessFunction
from harness.nuclio.runtime.processor import READ_TIMEOUT_ENV
from tests.conftest import FUNCTIONS, copy_function

ODD_WRAPPER = FUNCTIONS / "odd_wrapper.py"
RELAYED = 2 << 20  # a body this large goes on to a worker as it arrives (processor.RELAY_FROM)


Launch = Callable[..., RunningFunction]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g}s"
        time.sleep(0.05)


def wait_for_output(fn: RunningFunction, text: str, times: int = 1, timeout: float = 30) -> None:
    wait_until(
        lambda: fn.logs.text().count(text) >= times, f"{text!r} x{times} in the log", timeout
    )


def address(fn: RunningFunction) -> tuple[str, int]:
    host, port = fn.url.removeprefix("http://").split(":")
    return host, int(port)


def read_to_end(conn: socket.socket) -> bytes:
    answer = b""
    while chunk := conn.recv(65536):
        answer += chunk
    return answer


def post_head(length: int, close: bool = False) -> bytes:
    connection = "Connection: close\r\n" if close else ""
    return (
        "POST /event HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {length}\r\n{connection}\r\n"
    ).encode()


def ready(fn: RunningFunction) -> int:
    assert isinstance(fn, ProcessFunction)
    return requests.get(fn.health_url + "/ready", timeout=5).status_code


# -- 1. a stalled client ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "holds_a_worker"),
    [
        pytest.param(b"POST /event HTTP/1.1\r\nHost: x\r\nContent-Le", False, id="mid-head"),
        pytest.param(post_head(1000) + b"x" * 10, False, id="mid-body"),
        pytest.param(post_head(RELAYED) + b"x" * (1 << 20), True, id="mid-relayed-body"),
    ],
)
def test_a_stalled_client_is_answered_408_after_the_read_timeout_and_frees_its_worker(
    launch: Launch, tmp_path: Path, sent: bytes, holds_a_worker: bool
) -> None:
    # One worker, and a client that sends part of its request and then nothing, its
    # connection left open. A relayed body (1 MiB or more) holds the worker from its first
    # part: after the read timeout (1 s here) it is replaced, as it holds half an event.
    directory = copy_function(tmp_path, "echo", trigger={"numWorkers": 1})
    with launch(directory, env={READ_TIMEOUT_ENV: "1"}) as fn:
        with socket.create_connection(address(fn), timeout=15) as conn:
            conn.sendall(sent)
            started = time.monotonic()
            answer = read_to_end(conn)  # answered, then closed by the processor
            waited = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert b"\r\nConnection: close\r\n" in answer
        assert 0.9 < waited < 10, waited
        wait_for_output(fn, "answered 408 and closed")
        if holds_a_worker:
            wait_for_output(fn, "restarting worker: the client sent no part of its body for 1s")
            wait_for_output(fn, "worker restarted")
        else:
            assert "restarting worker" not in fn.logs.text()
        assert requests.get(fn.url + "/str", timeout=10).text == "plain text"


def test_a_slow_uploader_holds_no_worker_and_is_not_cut_off(launch: Launch, tmp_path: Path) -> None:
    # A 2 MiB body arriving 128 KiB every 0.25 s (a slow link): it is read whole before a
    # worker is taken, as Nuclio reads every body, so the only worker serves others meanwhile
    # (echo gives up after 1.5 s: 503); the read timeout (1 s) is for a stall, not a slow body.
    directory = copy_function(tmp_path, "echo", trigger={"numWorkers": 1})
    with launch(directory, env={READ_TIMEOUT_ENV: "1"}) as fn:
        body = b"y" * RELAYED
        step = 1 << 17
        with socket.create_connection(address(fn), timeout=15) as conn:
            conn.sendall(post_head(len(body), close=True) + body[:step])
            for start in range(step, len(body), step):
                time.sleep(0.25)  # the pace of a slow link: the fault itself, not a wait
                conn.sendall(body[start : start + step])
                if start % (4 * step) == 0:
                    assert requests.get(fn.url + "/str", timeout=10).status_code == 200
            answer = read_to_end(conn)
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
        assert b'"size": %d' % len(body) in answer
        assert "restarting worker" not in fn.logs.text()


# -- 2. a worker that cannot be restarted at once --------------------------------------------


def test_a_restart_whose_socket_directory_cannot_be_made_is_retried_and_ready_reflects_it(
    launch: Launch, tmp_path: Path
) -> None:
    # The processor's TMPDIR (where each worker's socket directory is made) is removed under
    # it: the restart after a crash fails in mkdtemp, is logged with its cause and retried;
    # /ready answers 503 while the pool is short, and 200 once the directory is back.
    sockets = tmp_path / "sockets"
    sockets.mkdir()
    directory = copy_function(tmp_path, "echo", trigger={"numWorkers": 1})
    with launch(directory, env={"TMPDIR": str(sockets)}) as fn:
        assert ready(fn) == 200
        shutil.rmtree(sockets)
        assert requests.get(fn.url + "/exit", timeout=10).status_code == 500
        wait_for_output(
            fn, "worker restart attempt 1 failed: FileNotFoundError: [Errno 2] No such file"
        )
        wait_until(lambda: "the pool is short" in fn.logs.text(), "the log says the pool is short")
        assert ready(fn) == 503
        sockets.mkdir()
        wait_for_output(fn, "worker restarted")
        wait_until(lambda: ready(fn) == 200, "/ready 200 again")
        assert requests.get(fn.url + "/str", timeout=10).text == "plain text"


# -- 4. a re-init that never ends ----------------------------------------------------------------


def test_a_restart_whose_init_context_hangs_gets_the_readiness_timeout(
    launch: Launch, tmp_path: Path
) -> None:
    # reinit_hangs: readinessTimeoutSeconds 2; its second init_context sleeps for an hour, the
    # third returns. The restart after a timed-out event is given up after 2 s and tried again.
    directory = copy_function(tmp_path, "reinit_hangs")
    with launch(directory) as fn:
        assert requests.get(fn.url, params={"s": "2"}, timeout=10).status_code == 408
        wait_for_output(fn, "init_context run 2")
        wait_for_output(fn, "did not report ready within the readiness timeout (2s)")
        wait_for_output(fn, "init_context run 3")
        wait_for_output(fn, "worker restarted")
        response = requests.get(fn.url, timeout=10)
        assert response.status_code == 200 and response.text == "ok"
        wait_until(lambda: ready(fn) == 200, "/ready 200 again")


# -- 3. a malformed answer -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/odd-response", "not JSON"),
        ("/scalar-response", "not a JSON object"),
        ("/bad-base64", "base64"),
        ("/bad-status", "status_code"),
    ],
)
def test_a_malformed_answer_is_a_500_with_its_reason_and_the_worker_serves_on(
    launch: Launch, tmp_path: Path, path: str, reason: str
) -> None:
    directory = copy_function(tmp_path, "echo", trigger={"numWorkers": 1})
    with launch(directory, wrapper=ODD_WRAPPER) as fn:
        pid = requests.get(fn.url + "/ok", timeout=10).text
        response = requests.get(fn.url + path, timeout=10)
        assert response.status_code == 500
        assert "malformed answer" in response.text and reason in response.text, response.text
        wait_for_output(fn, "malformed answer")
        assert requests.get(fn.url + "/ok", timeout=10).text == pid  # the same worker
        assert "restarting worker" not in fn.logs.text()


def test_a_log_line_that_is_no_json_object_is_logged_and_the_event_answered(
    launch: Launch, tmp_path: Path
) -> None:
    # Nuclio's processor logs "Can't decode log" and goes on (rpc/connection/abstract.go,
    # handleResponseLog); the harness keeps the line's text as the record's message.
    directory = copy_function(tmp_path, "echo", trigger={"numWorkers": 1})
    with launch(directory, wrapper=ODD_WRAPPER) as fn:
        response = requests.get(fn.url + "/odd-log", timeout=10)
        assert response.status_code == 200
        wait_for_output(fn, '"message": "[\\"a\\", \\"log\\", \\"line\\"')  # as JSON text
        pid = requests.get(fn.url + "/ok", timeout=10).text
        assert response.text == pid


def test_a_malformed_answer_while_another_event_waits_serves_the_waiter(
    launch: Launch, tmp_path: Path
) -> None:
    # The only worker holds a malformed answer back for 1 s (it marks the file ``busy`` when
    # it starts); an event sent meanwhile waits, and is handed to the worker once the
    # malformed answer is read (Pool.release, by the thread that answers the 500).
    busy = tmp_path / "busy"
    directory = copy_function(tmp_path, "echo", trigger={"numWorkers": 1})
    with launch(directory, wrapper=ODD_WRAPPER, env={"ODD_WRAPPER_BUSY": str(busy)}) as fn:
        results: dict[str, int] = {}

        def get(path: str) -> None:
            results[path] = requests.get(fn.url + path, timeout=10).status_code

        odd = threading.Thread(target=get, args=("/odd-response?hold=1",))
        odd.start()
        wait_until(busy.exists, "the worker busy with the malformed answer")
        waiter = threading.Thread(target=get, args=("/ok",))
        waiter.start()
        for thread in (odd, waiter):
            thread.join(30)
        assert results == {"/odd-response?hold=1": 500, "/ok": 200}


def test_a_request_target_that_cannot_be_read_is_a_400_and_holds_no_worker(
    launch: Launch, tmp_path: Path
) -> None:
    # An absolute-form target urlsplit refuses, with a body large enough to be relayed: the
    # request is refused before a worker is taken, and the one worker serves on.
    directory = copy_function(tmp_path, "echo", trigger={"numWorkers": 1})
    with launch(directory) as fn:
        head = post_head(RELAYED).replace(b"POST /event ", b"POST http://[::1/event ")
        with socket.create_connection(address(fn), timeout=15) as conn:
            conn.sendall(head + b"x" * RELAYED)
            answer = read_to_end(conn)
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
        assert b"bad request target" in answer
        assert requests.get(fn.url + "/str", timeout=10).text == "plain text"


# -- all of them at once ------------------------------------------------------------------------


FAULTS = {
    "good": 150,
    "crash": 10,
    "timeout": 8,
    "stall": 8,
    "stall-relayed": 8,
    "cut-short": 8,
    "odd-length": 8,
}


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != b"Z":
                found.append(int(entry))
    return found


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def _one(fn: RunningFunction, kind: str, number: int) -> int | None:
    """Send one request of ``kind``; its status, or None when the client gave up on purpose."""
    if kind == "good":
        body = b"%d" % number
        response = requests.post(fn.url + "/event", data=body, timeout=60)
        assert response.status_code != 200 or response.json()["body"] == body.decode()
        return response.status_code
    if kind == "crash":
        return requests.get(fn.url + "/exit", timeout=60).status_code
    if kind == "timeout":
        return requests.get(fn.url + "/sleep", params={"s": "5"}, timeout=60).status_code
    with socket.create_connection(address(fn), timeout=30) as conn:
        if kind == "cut-short":  # a relayed body, then the client goes away
            conn.sendall(post_head(RELAYED) + b"z" * (1 << 20))
            conn.shutdown(socket.SHUT_RDWR)
            return None
        if kind == "odd-length":  # a body that is not what its Content-Length says
            conn.sendall(post_head(10) + b"abc")
            conn.shutdown(socket.SHUT_WR)
            read_to_end(conn)
            return None
        sent = (
            post_head(RELAYED) + b"z" * (1 << 20)
            if kind == "stall-relayed"
            else post_head(99) + b"z"
        )
        conn.sendall(sent)
        answer = read_to_end(conn)
        return int(answer.split(b" ", 2)[1]) if answer else None


def test_a_mixed_fault_load_leaves_every_good_request_answered_and_two_workers(
    launch: Launch, tmp_path: Path
) -> None:
    """200 requests from 6 clients at once against a 2-worker function: crashes, timeouts,
    stalled and cut-short bodies among good requests. Every good request is answered 200,
    each fault as README's table says; afterwards the function has its 2 workers again, no
    thread of the processor's is left over, and nothing of it outlives its stop."""
    directory = copy_function(
        tmp_path,
        "echo",
        eventTimeout="1s",
        trigger={"numWorkers": 2, "workerAvailabilityTimeoutMilliseconds": 60000},
    )
    kinds = [kind for kind, count in FAULTS.items() for _ in range(count)]
    assert len(kinds) == 200
    random.Random(27).shuffle(kinds)
    queue = list(enumerate(kinds))
    lock = threading.Lock()
    outcomes: dict[str, Counter[int | None]] = {kind: Counter() for kind in FAULTS}
    errors: list[BaseException] = []
    deadline = time.monotonic() + 240

    with launch(directory, env={READ_TIMEOUT_ENV: "1"}) as fn:
        assert isinstance(fn, ProcessFunction)
        pid = fn.proc.pid
        workers_before = _children(pid)
        assert len(workers_before) == 2
        threads_before = _threads(pid)

        def client() -> None:
            while time.monotonic() < deadline:
                with lock:
                    if not queue:
                        return
                    number, kind = queue.pop()
                try:
                    status = _one(fn, kind, number)
                except BaseException as exc:  # noqa: BLE001 (reported after the join)
                    errors.append(exc)
                    return
                with lock:
                    outcomes[kind][status] += 1

        clients = [threading.Thread(target=client) for _ in range(6)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(max(0.0, deadline - time.monotonic()) + 1)
        assert not any(thread.is_alive() for thread in clients), "clients still running"
        assert not errors, errors
        assert not queue, f"{len(queue)} requests not sent within the time bound"

        assert outcomes["good"] == Counter({200: FAULTS["good"]}), outcomes
        assert outcomes["crash"] == Counter({500: FAULTS["crash"]}), outcomes
        assert outcomes["timeout"] == Counter({408: FAULTS["timeout"]}), outcomes
        assert outcomes["stall"] == Counter({408: FAULTS["stall"]}), outcomes
        assert outcomes["stall-relayed"] == Counter({408: FAULTS["stall-relayed"]}), outcomes
        # every replacement ends with its restart (a relayed body's only when a worker was
        # free as it began: otherwise it is read first and holds none); two workers again
        replaced = fn.logs.text().count("restarting worker")
        assert replaced >= FAULTS["crash"] + FAULTS["timeout"], fn.logs.text()[-3000:]
        wait_for_output(fn, "worker restarted", times=replaced, timeout=120)
        wait_until(lambda: len(_children(pid)) == 2, "two workers", timeout=30)
        wait_until(lambda: ready(fn) == 200, "/ready 200")
        wait_until(lambda: _threads(pid) <= threads_before, "the processor's threads back", 30)
        for _ in range(4):
            assert requests.post(fn.url + "/event", data=b"after", timeout=30).status_code == 200
        workers = _children(pid)
    for worker in workers:  # stopped with the function
        with pytest.raises(ProcessLookupError):
            os.kill(worker, 0)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
