"""cvat-fn dashboard without a real CVAT: a real ``python -m harness.cli dashboard`` process,
called by a plain HTTP client that sends exactly what CVAT 2.73.0's lambda manager sends
(tests/dashboard_helpers.py). What it must answer follows Nuclio's dashboard (nuclio 1.14):
pkg/dashboard/resource/function.go (GetAll: an object keyed by function name;
functionToAttributes: metadata, spec, status), pkg/dashboard/resource/invocation.go
(handleRequest: x-nuclio-function-name, x-nuclio-path, x-nuclio-invoke-timeout; errors as
{"error": ...}; X-Nuclio-* response headers not passed back) and pkg/platform/types.go
(EnrichFunction: an unknown name is 404 "Function not found: NAME @ NAMESPACE").
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.dap_client import attach_with_breakpoint, stopped_locals
from tests.dashboard_helpers import ROOT, Dashboard
from tests.test_cli_invoke import child_env
from tests.test_process_cleanup import descendants, wait_gone

FUNCTIONS = ROOT / "tests" / "functions"
FACES = ROOT / "sample_functions" / "face_detector"
ASTRONAUT = ROOT / "fixtures" / "images" / "astronaut.jpg"

SIZER_YAML = """\
metadata:
  name: {name}
  annotations:
    name: Image sizer
    type: detector
    spec: |
      [
        {{ "id": 0, "name": "face", "type": "rectangle" }}
      ]
spec:
  description: Answers one box over the image's top-left quarter
  runtime: 'python:3.11'
  handler: main:handler
  eventTimeout: 30s
  triggers:
    myHttpTrigger:
      numWorkers: 1
      kind: 'http'
      attributes:
        maxRequestBodySize: 33554432
"""

SIZER_MAIN = """\
import base64
import io
import json

from PIL import Image

LABEL = "face"


def init_context(context):
    context.logger.info("sizer ready")


def handler(context, event):
    data = event.body if isinstance(event.body, dict) else json.loads(event.body)
    image = Image.open(io.BytesIO(base64.b64decode(data["image"])))
    width, height = image.size
    context.logger.info(f"sizing {width}x{height}")
    shapes = [
        {"label": LABEL, "type": "rectangle", "points": [0, 0, width // 2, height // 2]}
    ]
    return context.Response(
        body=json.dumps(shapes), headers={}, content_type="application/json", status_code=200
    )
"""
HANDLER_LINE = "shapes = ["
"""The line after ``width, height = image.size``: a breakpoint there sees both."""


def write_sizer(where: Path, name: str = "sizer") -> Path:
    where.mkdir(parents=True)
    (where / "function.yaml").write_text(SIZER_YAML.format(name=name))
    (where / "main.py").write_text(SIZER_MAIN)
    return where


def jpeg(width: int = 640, height: int = 480) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 150)).save(buffer, "JPEG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def dashboards(tmp_path: Path) -> Iterator[list[Dashboard]]:
    """Start dashboards with ``dashboards.append(Dashboard(...))``; each is stopped and checked
    for leftovers at the end."""
    started: list[Dashboard] = []
    yield started
    for dashboard in started:
        dashboard.stop()


def start(dashboards: list[Dashboard], tmp_path: Path, *args: str | Path) -> Dashboard:
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    dashboard = Dashboard(args, cwd=tmp_path, tmp=scratch)
    dashboards.append(dashboard)
    return dashboard


def test_lists_functions_leaves_out_a_broken_spec_and_answers_503_for_one_that_cannot_start(
    tmp_path: Path, dashboards: list[Dashboard]
) -> None:
    sizer = write_sizer(tmp_path / "sizer")
    broken = write_sizer(tmp_path / "broken_spec", name="broken-spec")
    text = (broken / "function.yaml").read_text()
    # a trailing comma: json.loads fails in CVAT's LambdaFunction.__init__, not caught by
    # LambdaGateway.list, so CVAT's whole function list would fail
    (broken / "function.yaml").write_text(text.replace('"rectangle" }', '"rectangle" },'))
    d = start(dashboards, tmp_path, sizer, broken, FUNCTIONS / "init_fails")

    d.wait_line(r"broken_spec: NOT listed for CVAT.*metadata\.annotations\.spec")
    ready = d.wait_state("sizer")
    failed = d.wait_state("init-fails")
    listing = d.functions()
    assert sorted(listing) == ["init-fails", "sizer"]
    assert ready["metadata"]["name"] == "sizer"
    assert ready["metadata"]["annotations"]["type"] == "detector"
    assert json.loads(ready["metadata"]["annotations"]["spec"])[0]["name"] == "face"
    assert ready["spec"]["description"].startswith("Answers one box")
    assert ready["status"]["state"] == "ready"
    assert failed["status"]["state"] == "error"
    assert "model.xml is missing" in failed["status"]["message"]

    one = d.session.get(f"{d.url}/api/functions/sizer").json()
    assert one["status"]["httpPort"] == ready["status"]["httpPort"]
    missing = d.session.get(f"{d.url}/api/functions/broken-spec")
    assert missing.status_code == 404

    answer = d.invoke("sizer", {"image": jpeg(), "threshold": 0.5})
    assert answer.status_code == 200, answer.text
    assert answer.json() == [{"label": "face", "type": "rectangle", "points": [0, 0, 320, 240]}]
    # the dashboard passes no X-Nuclio-* header back (invocation.go, IsNuclioHeader)
    assert not [h for h in answer.headers if h.lower().startswith("x-nuclio")]

    unknown = d.invoke("no-such-function", {"image": jpeg()})
    assert unknown.status_code == 404
    assert unknown.json() == {
        "error": "Failed to invoke function: Function not found: no-such-function @ nuclio"
    }
    assert d.invoke("broken-spec", {"image": jpeg()}).status_code == 404
    # invocation.go handleRequest: no name is 400; so is a timeout that is no Go duration
    nameless = d.session.post(f"{d.url}/api/function_invocations", json={"image": jpeg()})
    assert (nameless.status_code, nameless.json()) == (
        400, {"error": "Function name must be provided"}
    )  # fmt: skip
    bad_timeout = d.session.post(
        f"{d.url}/api/function_invocations",
        json={"image": jpeg()},
        headers={"x-nuclio-function-name": "sizer", "X-Nuclio-Invoke-Timeout": "soon"},
    )
    assert (bad_timeout.status_code, bad_timeout.json()) == (
        400, {"error": "Invalid invoke timeout"}
    )  # fmt: skip

    down = d.invoke("init-fails", {"image": jpeg()})
    assert down.status_code == 503
    assert "model.xml is missing" in down.json()["error"]

    # CVAT's "direct" invoke method: a POST to the function's own port
    direct = requests.post(
        f"http://127.0.0.1:{ready['status']['httpPort']}/", json={"image": jpeg(64, 32)}
    )
    assert direct.json()[0]["points"] == [0, 0, 32, 16]

    blocks = d.wait_blocks(3)
    assert "sizer (detector) via dashboard: HTTP 200" in blocks[0]
    assert "sent: image 640x480 JPEG, threshold 0.5" in blocks[0]
    assert "init-fails (detector) via dashboard: no answer" in blocks[1]
    assert "CVAT fails the request" in blocks[1]
    assert "via direct: HTTP 200" in blocks[2]
    assert "image 64x32 JPEG" in blocks[2]


def test_verdict_block_and_json_log_judge_with_the_declared_labels(
    tmp_path: Path, dashboards: list[Dashboard]
) -> None:
    log = tmp_path / "verdicts.jsonl"
    d = start(dashboards, tmp_path, FUNCTIONS / "broken_label", "--json-log", log)
    d.wait_state("broken-label")
    image = base64.b64encode(ASTRONAUT.read_bytes()).decode()
    assert d.invoke("broken-label", {"image": image, "threshold": 0.5}).status_code == 200

    (block,) = d.wait_blocks(1)
    assert "broken-label (detector) via dashboard: HTTP 200" in block
    assert "sent: image 512x512 JPEG, threshold 0.5" in block
    assert "1 silently dropped" in block
    assert 'CVAT will drop this shape: "person" is not among the function\'s labels' in block
    assert "function log for this request:" in block
    assert "face(s) at threshold 0.5" in block  # face_base.py logs it for this request

    (line,) = log.read_text().splitlines()
    record = json.loads(line)
    assert record["function"] == "broken-label"
    assert record["kind"] == "detector"
    assert record["via"] == "dashboard"
    assert record["status"] == 200
    assert record["cvat_fails"] is False
    assert [(f["severity"], f["code"]) for f in record["findings"]] == [("loss", "label.unknown")]
    assert any("face(s) at threshold" in r["message"] for r in record["logs"])


def test_reload_restarts_on_a_change_and_the_next_answer_is_the_edited_one(
    tmp_path: Path, dashboards: list[Dashboard]
) -> None:
    sizer = write_sizer(tmp_path / "sizer")
    d = start(dashboards, tmp_path, sizer, "--reload")
    d.wait_state("sizer")
    d.wait_line(r"--reload: watching")
    first = d.invoke("sizer", {"image": jpeg()})
    assert first.json()[0]["label"] == "face"

    main = sizer / "main.py"
    main.write_text(main.read_text().replace('LABEL = "face"', 'LABEL = "person"'))
    mark = len(d.err)
    d.wait_line(r"main\.py changed: restarting sizer", since=mark)
    # sent while the function restarts: it waits for the new copy instead of failing
    second = d.invoke("sizer", {"image": jpeg()})
    assert second.status_code == 200, second.text
    assert second.json()[0]["label"] == "person"
    d.wait_line(r"sizer: ready again", since=mark)
    assert d.proc.poll() is None  # the dashboard itself never restarted
    blocks = d.wait_blocks(2)
    assert "1 silently dropped" in blocks[1]  # "person" is not a declared label

    # a spec CVAT would choke on, saved: the function leaves CVAT's list until it is fixed
    spec = sizer / "function.yaml"
    good = spec.read_text()
    mark = len(d.err)
    spec.write_text(good.replace('"rectangle" }', '"rectangle" },'))
    d.wait_line(r"sizer: not listed for CVAT: .*metadata\.annotations\.spec", since=mark)
    assert "sizer" not in d.functions()
    assert d.invoke("sizer", {"image": jpeg()}).status_code == 404
    mark = len(d.err)
    spec.write_text(good)
    d.wait_line(r"sizer: ready \(now listed\)", since=mark)
    assert d.invoke("sizer", {"image": jpeg()}).json()[0]["label"] == "person"


def fixtures_cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "fixtures", *map(str, args)],
        cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def suite(function: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--function={function}",
         "-k", "accuracy", "-v"],
        cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_record_then_fixtures_then_pytest_passes_and_fails_once_broken(
    tmp_path: Path, dashboards: list[Dashboard]
) -> None:
    faces = tmp_path / "faces"
    shutil.copytree(FACES, faces)
    config = faces / "cvat-fn.yaml"
    config.write_text('# my own notes, kept by cvat-fn fixtures\ncvat_version: "2.73"\n')
    record = tmp_path / "rec"
    d = start(dashboards, tmp_path, faces, "--record", record)
    name = "opencv-haar-face-detector"
    d.wait_state(name)
    image = base64.b64encode(ASTRONAUT.read_bytes()).decode()
    assert d.invoke(name, {"image": image, "threshold": 0.5}).status_code == 200
    (block,) = d.wait_blocks(1)
    assert "recorded: " in block
    (recording,) = sorted(record.iterdir())
    assert (recording / "image.jpg").read_bytes() == ASTRONAUT.read_bytes()
    exchange = json.loads((recording / "exchange.json").read_text())
    assert exchange["request"]["fields"] == {"threshold": 0.5}
    assert exchange["headers"]["x-nuclio-function-name"] == name

    listed = fixtures_cli(record, cwd=tmp_path)
    assert listed.returncode == 0 and recording.name in listed.stdout
    made = fixtures_cli(record, "--into", config, "--expect-answer", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    text = config.read_text()
    assert text.startswith("# my own notes, kept by cvat-fn fixtures\n")
    assert f"image: {recording.name}-image.jpg" in text
    assert "threshold: 0.5" in text
    assert "label: face" in text and "points: [176, 65, 272, 161]" in text
    assert (faces / f"{recording.name}-image.jpg").is_file()
    again = fixtures_cli(record, "--into", config, "--expect-answer", cwd=tmp_path)
    assert "already a fixture" in again.stdout

    passed = suite(faces, tmp_path)
    assert passed.returncode == 0, passed.stdout[-3000:]
    assert "::accuracy PASSED" in passed.stdout  # judged on the new fixture, not skipped

    main = faces / "main.py"
    source = main.read_text()
    assert "results = context.user_data.model.infer(" in source
    main.write_text(source.replace(
        "results = context.user_data.model.infer(",
        "results = [] and context.user_data.model.infer(",
    ))  # fmt: skip
    failed = suite(faces, tmp_path)
    assert failed.returncode == 1, failed.stdout[-3000:]
    assert "::accuracy FAILED" in failed.stdout


def test_fixtures_refuses_what_it_cannot_turn_into_a_fixture(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = fixtures_cli(empty, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"cvat-fn fixtures: {empty}: no recordings here (made by cvat-fn dashboard --record)"
    )
    tracker = tmp_path / "rec" / "0001-tracker"
    tracker.mkdir(parents=True)
    (tracker / "exchange.json").write_text(json.dumps({
        "function": "t", "kind": "tracker", "request": {"fields": {}, "images": {}},
        "answer": {"status": 200, "body": {}}, "findings": [],
    }))  # fmt: skip
    result = fixtures_cli(tmp_path / "rec", "--into", tmp_path / "cvat-fn.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert "a tracker's fixture needs two frames" in result.stderr
    assert not (tmp_path / "cvat-fn.yaml").exists()


def _recording(where: Path, status: int, image: bool, body: object) -> Path:
    where.mkdir(parents=True)
    images = {}
    if image:
        shutil.copyfile(ASTRONAUT, where / "image.jpg")
        images = {"image": "image.jpg"}
    (where / "exchange.json").write_text(json.dumps({
        "function": "opencv-haar-face-detector", "kind": "detector",
        "request": {"fields": {"threshold": 0.5}, "images": images},
        "answer": {"status": status, "body": body}, "findings": [],
    }))  # fmt: skip
    return where


def test_fixtures_keeps_the_files_layout_and_says_why_a_request_cannot_be_one(
    tmp_path: Path,
) -> None:
    """The sample's own cvat-fn.yaml (two-space indent, dashes indented, one long flow line)
    gets a fixture added and nothing else changed; a failed request is listed as one CVAT
    fails, and one without a readable image is refused with the reason."""
    config = tmp_path / "cvat-fn.yaml"
    original = (FACES / "cvat-fn.yaml").read_text()
    config.write_text(original)
    answer = [{"label": "face", "type": "rectangle", "points": [176, 65, 272, 161],
               "confidence": 0.99}]  # fmt: skip
    good = _recording(tmp_path / "rec" / "0001-face", 200, True, answer)
    made = fixtures_cli(good, "--into", config, "--expect-answer", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    added = config.read_text().splitlines()
    kept = iter(added)
    assert all(line in kept for line in original.splitlines())  # in order, unchanged
    assert len(added) > len(original.splitlines())
    assert "  - name: 0001-face" in added and "    image: 0001-face-image.jpg" in added

    bad = _recording(tmp_path / "rec" / "0002-face", 500, False, "Traceback ...")
    listed = fixtures_cli(tmp_path / "rec", cwd=tmp_path)
    assert "0002-face: opencv-haar-face-detector (detector)" in listed.stdout
    assert "HTTP 500 (CVAT fails the request)" in listed.stdout
    refused = fixtures_cli(bad, "--into", config, cwd=tmp_path)
    assert refused.returncode == 2
    assert "no image was recorded: CVAT sent none, or one that cannot be read" in refused.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def debugpy_processes(port: int) -> list[int]:
    """Processes of debugpy (its adapter daemonizes, so it is nobody's child) for ``port``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"debugpy" in a for a in argv) and str(port).encode() in argv:
            found.append(int(entry.name))
    return found


def test_debug_a_debugpy_client_stops_in_handler_and_sees_the_image_size(
    tmp_path: Path, dashboards: list[Dashboard]
) -> None:
    pytest.importorskip("debugpy")
    sizer = write_sizer(tmp_path / "sizer")
    main = (sizer / "main.py").resolve()
    line = next(i for i, text in enumerate(SIZER_MAIN.splitlines(), 1) if HANDLER_LINE in text)
    port = free_port()
    d = start(dashboards, tmp_path, sizer, "--debug", str(port))
    d.wait_state("sizer")
    d.wait_line(rf"debugpy listens on 127\.0\.0\.1:{port}.*CVAT waits, up to its own invoke")

    client = attach_with_breakpoint(port, str(main), line)
    try:
        answers: list[requests.Response] = []
        cvat = threading.Thread(target=lambda: answers.append(d.invoke("sizer", {"image": jpeg()})))
        cvat.start()  # CVAT's call, which waits while the worker is stopped
        thread_id, frame, values = stopped_locals(client)
        assert (frame["name"], frame["line"]) == ("handler", line)
        assert (values["width"], values["height"]) == ("640", "480")
        assert cvat.is_alive() and not answers  # CVAT is still waiting
        client.request("continue", threadId=thread_id)
        cvat.join(60)
        assert answers[0].status_code == 200
        assert answers[0].json()[0]["points"] == [0, 0, 320, 240]
        client.request("disconnect", terminateDebuggee=False)
    finally:
        client.close()
    d.stop()
    dashboards.remove(d)
    deadline = time.monotonic() + 30
    while debugpy_processes(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not debugpy_processes(port), "debugpy's adapter outlived the dashboard"


def test_the_worker_imports_debugpy_only_when_asked() -> None:
    """harness/nuclio/runtime must import only the standard library, nuclio_sdk and msgpack: the
    worker's debugger hook imports debugpy only with CVAT_FN_DEBUGPY set."""
    code = (
        "import sys; sys.path.insert(0, 'harness/nuclio/runtime'); import wrapper;"
        " wrapper.start_debugger({}); print('debugpy' in sys.modules)"
    )
    quiet = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert quiet.stdout.strip() == "False"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_a_stopped_or_killed_dashboard_leaves_no_function_process(
    tmp_path: Path, sig: signal.Signals
) -> None:
    sizer = write_sizer(tmp_path / "sizer")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    d = Dashboard([sizer], cwd=tmp_path, tmp=scratch)
    try:
        d.wait_state("sizer")
        below = descendants(d.proc.pid)
        assert below  # the processor and its worker
        os.kill(d.proc.pid, sig)
        code = d.proc.wait(60)
        assert code == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
        assert not wait_gone(below, 30), "function processes outlived the dashboard"
    finally:
        if d.proc.poll() is None:
            os.killpg(d.proc.pid, signal.SIGKILL)
            d.proc.wait()


def test_serves_a_cvat_sdk_module_as_pytest_function_takes_it(
    tmp_path: Path, dashboards: list[Dashboard]
) -> None:
    pytest.importorskip("cvat_sdk")
    module = ROOT / "sample_functions" / "sdk_face_detector" / "haar_faces.py"
    d = start(dashboards, tmp_path, module)
    attrs = d.wait_state("cvat-sdk-haar-faces")
    assert attrs["status"]["state"] == "ready", attrs
    assert attrs["metadata"]["annotations"]["type"] == "detector"
    image = base64.b64encode(ASTRONAUT.read_bytes()).decode()
    answer = d.invoke("cvat-sdk-haar-faces", {"image": image, "threshold": 0.5})
    assert answer.status_code == 200, answer.text
    assert [shape["label"] for shape in answer.json()] == ["face"]
    (block,) = d.wait_blocks(1)
    assert "cvat-sdk-haar-faces (detector) via dashboard: HTTP 200" in block
