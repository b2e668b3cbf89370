"""The runtime's own HTTP/1.1 and its side of Nuclio's wire protocol, against real processes:
what the faster paths (harness/nuclio/runtime/http11.py, workers.frame_event, the wrapper's one
registered reader and C JSON encoder) must keep as before."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import nuclio_sdk
import pytest
import requests

from harness.nuclio.runners.base import RunningFunction
from harness.nuclio.runners.process import ProcessRunner
from harness.nuclio.runtime.buffers import send_all
from harness.nuclio.runtime.processor import function_env
from harness.nuclio.runtime.workers import Worker, frame_event
from tests.conftest import FUNCTIONS


@pytest.fixture(scope="module")
def echo() -> Iterator[RunningFunction]:
    with ProcessRunner().start(FUNCTIONS / "echo") as running:
        yield running


def raw_exchange(fn: RunningFunction, data: bytes, until_closed: bool = False) -> bytes:
    """Send ``data`` on a new connection; what comes back (all of it, if ``until_closed``)."""
    host, port = fn.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(data)
        received = b""
        while True:
            chunk = conn.recv(65536)
            received += chunk
            if not chunk or (not until_closed and received.count(b"\r\n\r\n") >= 1):
                return received


def test_keep_alive_serves_requests_in_order_on_one_connection(echo: RunningFunction) -> None:
    one = b"GET /str HTTP/1.1\r\nHost: x\r\n\r\n"
    two = b"GET /dict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answer = raw_exchange(echo, one + two, until_closed=True)
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == 2
    assert answer.index(b"plain text") < answer.index(b'{"a": 1}')
    assert answer.rstrip().endswith(b'{"a": 1}')


def test_http_1_0_is_answered_and_closed(echo: RunningFunction) -> None:
    answer = raw_exchange(echo, b"GET /str HTTP/1.0\r\n\r\n", until_closed=True)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nConnection: close\r\n" in answer
    assert answer.endswith(b"\r\n\r\nplain text")


def test_server_header_is_nuclios(echo: RunningFunction) -> None:
    # fasthttp.Server{Name: "nuclio"} in Nuclio's pkg/processor/trigger/http/trigger.go
    response = requests.get(echo.url + "/str", timeout=10)
    assert response.headers["Server"] == "nuclio"
    assert response.headers["Content-Length"] == str(len("plain text"))


def test_expect_100_continue_then_the_answer(echo: RunningFunction) -> None:
    host, port = echo.url.removeprefix("http://").split(":")
    body = json.dumps({"x": 1}).encode()
    head = (
        "POST /event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head.encode())
        assert conn.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        conn.sendall(body)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["body"] == {"x": 1}


def test_chunked_body_arrives_whole(echo: RunningFunction) -> None:
    parts = [b'{"image": "', b"a" * 70000, b'"}']
    response = requests.post(
        echo.url + "/event",
        data=iter(parts),  # requests sends an iterator chunked
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    seen = response.json()
    assert seen["body"] == {"image": "a" * 70000}
    assert seen["size"] == sum(len(p) for p in parts)


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"NONSENSE\r\n\r\n", b"400"),
        (b"GET /str HTTP/2.0\r\n\r\n", b"505"),
        (b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", b"501"),
        (b"GET /str HTTP/1.1\r\n bad: folded\r\n\r\n", b"400"),
    ],
)
def test_malformed_requests_get_a_status_and_a_closed_connection(
    echo: RunningFunction, request_line: bytes, status: bytes
) -> None:
    answer = raw_exchange(echo, request_line, until_closed=True)
    assert answer.startswith(b"HTTP/1.1 " + status + b" "), answer[:80]
    assert b"\r\nConnection: close\r\n" in answer


def test_header_names_are_canonical_and_the_last_repeat_wins(echo: RunningFunction) -> None:
    request = (
        b"POST /event HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
        b"x-thing: first\r\nX-THING: second\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    answer = raw_exchange(echo, request, until_closed=True)
    seen = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert seen["headers"]["X-Thing"] == "second"
    assert seen["headers"]["Content-Type"] == "application/json"
    assert seen["body_type"] == "dict"  # exactly application/json, whatever the name's case


def test_a_large_json_body_is_decoded_and_answered_whole(echo: RunningFunction) -> None:
    image = "A" * (10 << 20)  # a 4K frame's base64 is about this size
    response = requests.post(echo.url + "/event", json={"image": image}, timeout=60)
    assert response.status_code == 200
    seen = response.json()
    assert seen["body_type"] == "dict" and seen["body"]["image"] == image


def test_a_large_body_goes_on_to_the_worker_while_it_arrives(echo: RunningFunction) -> None:
    """A body of a MiB or more is relayed to a free worker as it is read
    (processor.RELAY_FROM): with both of echo's workers holding half an event, a third
    request waits for one of them, and each is answered once its body is complete."""
    host, port = echo.url.removeprefix("http://").split(":")
    body = json.dumps({"image": "B" * (4 << 20)}).encode()
    head = (
        "POST /event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    logs_before = len(echo.logs.lines())
    uploads = [socket.create_connection((host, int(port)), timeout=30) for _ in range(2)]
    try:
        for conn in uploads:
            conn.sendall(head + body[: len(body) // 2])
        time.sleep(0.5)
        with pytest.raises(requests.Timeout):  # both workers hold a half-sent event
            requests.get(echo.url + "/str", timeout=1)
        answers = []
        for conn in uploads:
            conn.sendall(body[len(body) // 2 :])
            answer = b""
            while chunk := conn.recv(1 << 20):
                answer += chunk
            answers.append(answer)
    finally:
        for conn in uploads:
            conn.close()
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer[:200]
        seen = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert seen["body_type"] == "dict" and seen["body"]["image"] == "B" * (4 << 20)
    assert requests.get(echo.url + "/str", timeout=30).text == "plain text"
    assert not any("restarting worker" in line for line in echo.logs.lines()[logs_before:])


def test_a_relayed_body_cut_short_restarts_its_worker_and_the_next_request_is_served(
    echo: RunningFunction,
) -> None:
    """The worker holds half an event when the client goes away mid-body: it is replaced
    (its init_context runs again), and the function goes on serving."""
    host, port = echo.url.removeprefix("http://").split(":")
    head = (
        "POST /event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {4 << 20}\r\n\r\n"
    ).encode()
    restarted = echo.logs.text().count("worker restarted")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head + b"C" * (2 << 20))
        time.sleep(0.3)
    deadline = time.monotonic() + 60
    while echo.logs.text().count("worker restarted") <= restarted:  # its replacement is up
        assert time.monotonic() < deadline, echo.logs.text()[-2000:]
        time.sleep(0.1)
    assert "the client stopped sending" in echo.logs.text()
    for _ in range(4):  # both workers, the restarted one included
        response = requests.get(echo.url + "/str", timeout=30)
        assert response.status_code == 200 and response.text == "plain text"


def test_frame_event_is_one_msgpack_map_with_its_length() -> None:
    event = {"body": b"\x00" * 70000, "path": "/", "headers": {"A": "b"}, "size": 70000}
    frame = b"".join(bytes(part) for part in frame_event(event))
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    assert msgpack.unpackb(frame[4:], raw=False) == event
    small = {f"k{i}": i for i in range(3)} | {"body": b"x"}
    assert msgpack.unpackb(b"".join(bytes(p) for p in frame_event(small))[4:]) == small


def _event(body: Any, path: str = "/") -> dict[str, Any]:
    payload = json.dumps(body).encode()
    return {
        "body": payload,
        "content_type": "application/json",
        "headers": {"Content-Type": "application/json"},
        "fields": {},
        "id": str(uuid.uuid4()),
        "method": "POST",
        "path": path,
        "size": len(payload),
        "timestamp": int(time.time()),
        "trigger": {"kind": "http", "name": "myHttpTrigger"},
        "url": "http://x" + path,
        "shard_id": 0,
        "num_shards": 0,
        "type": "",
        "type_version": "",
        "version": "",
    }


ASYNC_HANDLER = """
import asyncio, json

async def handler(context, event):
    await asyncio.sleep(event.body["sleep"])
    return context.Response(body=json.dumps(event.body), content_type="application/json")
"""


def _worker(directory: Path, request: pytest.FixtureRequest) -> Worker:
    """A started worker (ours, or the --wrapper one, such as Nuclio's) for ``directory``."""
    config = {"handler": "main:handler", "function_dir": str(directory), "name": "wire"}
    env = function_env(config)
    wrapper = request.config.getoption("wrapper")
    if wrapper:
        env["NUCLIO_PYTHON_WRAPPER_PATH"] = str(Path(wrapper).resolve())
    worker = Worker(0, config, env, lambda record: None)
    worker.start()
    return worker


def _answers(worker: Worker, count: int) -> list[Any]:
    answers = []
    deadline = time.monotonic() + 10
    while len(answers) < count:
        kind, payload = worker._read_line(deadline)
        if kind == "r":
            answers.append(json.loads(payload))
    return answers


def test_events_sent_together_are_served_one_at_a_time_in_order(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # A worker serves one event at a time (Nuclio's wrapper awaits each before reading the
    # next): two events arriving in one write to a coroutine handler come back in order.
    (tmp_path / "main.py").write_text(ASYNC_HANDLER)
    worker = _worker(tmp_path, request)
    try:
        assert worker.conn is not None
        first, second = {"n": 1, "sleep": 0.2}, {"n": 2, "sleep": 0}
        send_all(worker.conn, frame_event(_event(first)) + frame_event(_event(second)))
        answers = [json.loads(answer["body"]) for answer in _answers(worker, 2)]
        assert answers == [first, second]
    finally:
        worker.kill()


BODY_HANDLER = """
import json

def handler(context, event):
    body = event.body
    kind = type(body).__name__
    shown = body if isinstance(body, dict) else body.decode("latin-1")
    return context.Response(body=json.dumps([kind, shown]), content_type="application/json")
"""


@pytest.mark.parametrize("layout", ["processor's: body first", "any other order"])
@pytest.mark.parametrize(
    ("content_type", "body", "seen"),
    [
        (
            "application/json",
            b'{"image": "' + b"A" * 70000 + b'"}',
            ["dict", {"image": "A" * 70000}],
        ),
        ("application/json", b"{not json", ["bytes", "{not json"]),
        ("application/json", b"\xff\xfe", ["bytes", "\xff\xfe"]),
        ("image/png", b"\x89PNG" + b"\0" * 70000, ["bytes", "\x89PNG" + "\0" * 70000]),
    ],
)
def test_the_body_reaches_the_handler_as_nuclio_sdk_gives_it(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    layout: str,
    content_type: str,
    body: bytes,
    seen: list[Any],
) -> None:
    # nuclio_sdk's deserializer (event.py, _from_msgpack_decoded): a body JSON-decoded only for
    # exactly application/json, and left as bytes when that fails; whatever the map's order.
    (tmp_path / "main.py").write_text(BODY_HANDLER)
    event = _event(None) | {"body": body, "content_type": content_type, "size": len(body)}
    if layout == "any other order":
        packed = msgpack.packb(event, use_bin_type=True)  # body where packb puts it
        frame = [len(packed).to_bytes(4, "big"), packed]
    else:
        frame = frame_event(event)
        assert bytes(frame[1])[1:6] == b"\xa4body" or bytes(frame[1])[3:8] == b"\xa4body"
    worker = _worker(tmp_path, request)
    try:
        assert worker.conn is not None
        send_all(worker.conn, frame)
        (answer,) = _answers(worker, 1)
    finally:
        worker.kill()
    assert answer["status_code"] == 200, answer["body"][:300]
    assert json.loads(answer["body"]) == seen


ODD_VALUES_HANDLER = """
import math

class Shape:
    def __repr__(self):
        return "<a shape>"

def handler(context, event):
    if event.path == "/nan":
        return {"score": math.nan, "inf": [math.inf, -math.inf], "x": 1.5}
    return {"text": "caf\\u00e9 \\u2603", "shape": Shape(), "ints": [1, 2**70, True, None],
            "floats": [0.1, 1e300, -0.0], "nested": {"1": (1, 2)}}
"""


@pytest.mark.parametrize("path", ["/plain", "/nan"])
def test_answers_are_encoded_as_nuclio_sdks_encoder_does(tmp_path: Path, path: str) -> None:
    (tmp_path / "main.py").write_text(ODD_VALUES_HANDLER)
    (tmp_path / "function.yaml").write_text(
        "metadata: {name: odd}\nspec: {handler: 'main:handler', runtime: 'python:3.11'}\n"
    )
    namespace: dict[str, Any] = {}
    exec(ODD_VALUES_HANDLER, namespace)  # the same values, encoded here by nuclio_sdk
    expected = namespace["handler"](None, type("E", (), {"path": path})())
    with ProcessRunner().start(tmp_path) as fn:
        response = requests.get(fn.url + path, timeout=10)
    assert response.status_code == 200
    assert response.text == nuclio_sdk.json_encoder.Encoder().encode(expected)
    if path == "/nan":
        assert json.loads(response.text)["score"] == "NaN"  # Nuclio's, not bare NaN


FAULTS_PROBE = """
import json, resource, sys
from harness.nuclio.runtime.wrapper import reuse_freed_memory
if sys.argv[1] == "keep":
    reuse_freed_memory()
body = json.dumps({"image": "A" * 10_000_000}).encode()
faults = []
for _ in range(4):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    json.loads(body)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps(faults))
"""


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="glibc's malloc (Linux) only")
def test_a_worker_reuses_the_pages_of_the_last_large_body() -> None:
    """A 10 MB JSON body made json.loads fault ~5,000 pages in on every event (glibc unmapped
    the blocks when freed), doubling its cost; with reuse_freed_memory (the wrapper calls it at
    start) the later events fault in almost none."""
    import subprocess
    import sys

    def faults(mode: str) -> list[int]:
        done = subprocess.run(
            [sys.executable, "-c", FAULTS_PROBE, mode], capture_output=True, text=True, check=True
        )
        return json.loads(done.stdout)

    pages = 10_000_000 // 4096
    assert min(faults("default")[1:]) > pages  # the cost the setting removes is there
    assert max(faults("keep")[1:]) < pages // 20
