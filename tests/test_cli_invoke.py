"""cvat-fn invoke and serve, run as a user runs them: ``python -m harness.cli`` in a subprocess,
against the sample functions started for real and called over real HTTP."""

from __future__ import annotations

import ctypes
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_functions"
IMAGES = ROOT / "fixtures" / "images"
ASTRONAUT = IMAGES / "astronaut.jpg"
FACE = ("--function", SAMPLES / "face_detector")
FACE_BOX = (176, 65, 272, 161)
CLI_TIMEOUT_S = 120


def child_env() -> dict[str, str]:
    """This checkout's harness first on the path, installed or not."""
    path = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(path))


def invoke(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "invoke", *map(str, args)],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def table_boxes(stdout: str, *words: str) -> list[list[float]]:
    """Boxes of the table rows that contain all ``words``."""
    rows = [line for line in stdout.splitlines() if all(w in line.split() for w in words)]
    found = [re.search(r"\[([-\d.]+), ([-\d.]+), ([-\d.]+), ([-\d.]+)\]", row) for row in rows]
    return [[float(v) for v in m.groups()] for m in found if m]


# --- serve -------------------------------------------------------------------------------


@dataclass
class Served:
    proc: subprocess.Popen[str]
    url: str
    example: str
    stderr: Path

    def runtime_pids(self) -> list[int]:
        """The function's processor: started with --parent-pid of the serve process."""
        marker = f"--parent-pid\0{self.proc.pid}\0"
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    cmdline = (entry / "cmdline").read_text()
                except OSError:
                    continue
                if "harness.nuclio.runtime" in cmdline and (cmdline + "\0").find(marker) >= 0:
                    pids.append(int(entry.name))
        return pids

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def session_members(sid: int) -> list[int]:
    """Live processes in session ``sid`` (the runtime starts its own; workers join it)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            members.append(int(entry.name))
    return members


def serve_child_setup() -> None:
    """Ctrl-C must reach serve even when these tests run in a background job (where a shell
    starts children with SIGINT ignored); and serve must end with this test run, even one
    killed before its finalizers ran (Linux: SIGTERM on parent death)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def serve(directory: Path, stderr: Path, *options: str) -> Served:
    with stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "serve", str(directory), *options],
            cwd=ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            start_new_session=True,
            preexec_fn=serve_child_setup,
        )
    assert proc.stdout is not None
    stdout = proc.stdout
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    try:
        url, example = (lines.get(timeout=60).strip() for _ in range(2))
    except queue.Empty:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail(f"serve printed no URL; stderr:\n{stderr.read_text()}")
    return Served(proc, url, example, stderr)


@pytest.fixture(scope="module")
def face_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The face detector served once for the module's --url tests."""
    served = serve(SAMPLES / "face_detector", tmp_path_factory.mktemp("serve") / "stderr.txt")
    yield served
    served.stop()


def test_serve_prints_url_and_example_then_stops_on_ctrl_c(tmp_path: Path) -> None:
    served = serve(SAMPLES / "histogram_reid", tmp_path / "stderr.txt")
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", served.url), served.url
        assert "cvat-fn invoke" in served.example and f"--url {served.url}" in served.example
        processors = served.runtime_pids()
        assert len(processors) == 1, processors

        boxes = (
            "--boxes0 40,40,118,118 200,30,296,142 60,200,146,278 360,180,430,290"
            " --boxes1 380,20,430,128 90,188,176,266 62,58,140,136 178,52,274,164"
        )
        frames = (IMAGES / "reid_frame0.jpg", IMAGES / "reid_frame1.jpg")
        result = invoke(*frames, "--url", served.url, "--kind", "reid", *boxes.split())
        assert result.returncode == 0, result.stdout + result.stderr
        rows = {
            line.split()[0]: line.split()
            for line in result.stdout.splitlines()
            if re.match(r"\d+ ", line)
        }
        assert rows["0"][rows["0"].index("->") + 1] == "2"
        assert rows["1"][rows["1"].index("->") + 1] == "3"
        assert rows["2"][rows["2"].index("->") + 1] == "1"
        assert rows["3"][rows["3"].index("->") + 1 :][:3] == ["-1", "no", "match"]
        assert "labels are not checked" in result.stderr
        # Nuclio's health endpoints (its :8082) are on a port of their own, named at start.
        health = re.search(r"health at (http://127\.0\.0\.1:\d+)/ready", served.stderr.read_text())
        assert health, served.stderr.read_text()
        with urllib.request.urlopen(f"{health.group(1)}/ready", timeout=10) as answer:
            assert answer.status == 200
        # The function's log lines for that request stream to serve's stderr.
        deadline = time.monotonic() + 10
        while "matched" not in served.stderr.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "3 of 4 box(es) matched" in served.stderr.read_text()
    finally:
        code = served.stop()
    assert code == 0, served.stderr.read_text()
    assert "Traceback" not in served.stderr.read_text()
    assert served.runtime_pids() == []
    for pid in processors:
        assert session_members(pid) == [], f"processes of the function's session {pid} remain"
    with pytest.raises(OSError):
        port = int(served.url.rsplit(":", 1)[1])
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


# --- invoke against each sample ----------------------------------------------------------


def test_detector_table_over_url(face_served: Served) -> None:
    result = invoke(ASTRONAUT, "--url", face_served.url, *FACE, "--threshold", "0.5")
    assert result.returncode == 0, result.stdout + result.stderr
    boxes = table_boxes(result.stdout, "face", "rectangle")
    assert len(boxes) == 1, result.stdout
    assert iou(boxes[0], FACE_BOX) >= 0.5, boxes
    assert "label" in result.stdout and "confidence" in result.stdout
    assert "no errors" in result.stdout
    assert "labels are not checked" not in result.stderr


def test_url_without_function_says_labels_are_not_checked(face_served: Served) -> None:
    result = invoke(ASTRONAUT, "--url", face_served.url, "--kind", "detector")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "labels are not checked" in result.stderr
    assert len(table_boxes(result.stdout, "face")) == 1


def test_detector_json_and_draw(face_served: Served, tmp_path: Path) -> None:
    out = tmp_path / "drawn.png"
    result = invoke(ASTRONAUT, "--url", face_served.url, *FACE, "--json", "--draw", out)
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)  # nothing but the document on stdout
    assert doc["kind"] == "detector" and doc["ok"] is True
    assert doc["labels"] == ["face"] and doc["labels_checked"] is True
    (request,) = doc["requests"]
    assert {"sent", "status", "latency_ms", "body", "shapes", "findings", "logs"} <= set(request)
    assert "astronaut.jpg" in request["sent"]
    assert request["status"] == 200 and request["latency_ms"] > 0
    assert request["findings"] == []
    assert isinstance(request["body"], list) and request["body"][0]["label"] == "face"
    (shape,) = request["shapes"]
    assert shape["label"] == "face" and shape["type"] == "rectangle"
    assert iou(shape["box"], FACE_BOX) >= 0.5
    assert any("face" in record["message"] for record in request["logs"])
    assert doc["drawn"] == [str(out)]

    drawn = np.asarray(Image.open(out).convert("RGB"), dtype=np.int16)
    original = np.asarray(Image.open(ASTRONAUT).convert("RGB"), dtype=np.int16)
    assert drawn.shape == original.shape
    changed = np.abs(drawn - original).sum(axis=2) > 60
    x1, y1, x2, y2 = FACE_BOX
    # The box's left edge is drawn; the middle of the face is left as it was.
    assert changed[y1 + 20 : y2 - 20, x1 - 3 : x1 + 4].any(axis=1).mean() > 0.9
    assert changed[y1 + 40 : y2 - 40, x1 + 40 : x2 - 40].mean() < 0.05


def test_several_detector_images_draw_numbered_files(face_served: Served, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    images = (ASTRONAUT, IMAGES / "coffee.jpg")
    result = invoke(*images, "--url", face_served.url, *FACE, "--threshold", "0.5", "--draw", out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(no shapes)" in result.stdout  # coffee.jpg has no face
    assert (tmp_path / "out-1.png").is_file() and (tmp_path / "out-2.png").is_file()
    assert not out.exists()
    with Image.open(tmp_path / "out-2.png") as img:
        assert img.size == Image.open(IMAGES / "coffee.jpg").size


def test_interactor_mask_from_function_in_current_directory() -> None:
    here = SAMPLES / "grabcut_interactor"
    result = invoke(os.path.relpath(ASTRONAUT, here), "--pos-points", "172,385", cwd=here)
    assert result.returncode == 0, result.stdout + result.stderr
    boxes = table_boxes(result.stdout, "mask")
    assert len(boxes) == 1, result.stdout
    assert iou(boxes[0], (135, 349, 206, 422)) >= 0.5, boxes
    assert "starting opencv-grabcut-interactor" in result.stderr


def test_tracker_starts_then_tracks_with_states(tmp_path: Path) -> None:
    out = tmp_path / "tracked.png"
    frames = (IMAGES / "chelsea_track0.jpg", IMAGES / "chelsea_track1.jpg")
    tracker = ("--function", SAMPLES / "template_tracker")
    shapes = ("--shapes", "95,55,170,120", "190,190,255,240")
    result = invoke(*frames, *tracker, "--json", "--draw", out, *shapes)
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    first, second = doc["requests"]
    assert first["status"] == second["status"] == 200
    assert len(first["body"]["states"]) == 2
    assert "2 states" in second["sent"]
    boxes = [s["box"] for s in second["shapes"]]
    expected = [(118.6, 69.1, 193.6, 134.1), (214.5, 204.3, 279.5, 254.3)]
    assert len(boxes) == 2
    for box, want in zip(boxes, expected, strict=True):
        assert iou(box, want) >= 0.5, (box, want)
    drawn = np.asarray(Image.open(out).convert("RGB"), dtype=np.int16)
    second_image = np.asarray(Image.open(IMAGES / "chelsea_track1.jpg").convert("RGB"), np.int16)
    assert drawn.shape == second_image.shape  # drawn on the second image
    assert (np.abs(drawn - second_image).sum(axis=2) > 60).sum() > 500


# --- failures ----------------------------------------------------------------------------


BROKEN_MAIN = """
import json


def init_context(context):
    context.logger.info("ready to answer badly")


def handler(context, event):
    threshold = event.body.get("threshold")
    context.logger.warn_with("about to answer", threshold=threshold)
    if threshold == 0.9:
        raise RuntimeError("model exploded")
    shapes = [{"label": "cat", "type": "rectangle", "points": [1, 2, 30, 40]}]
    return context.Response(body=json.dumps(shapes), content_type="application/json")
"""


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A detector that answers a label it does not declare, or raises at threshold 0.9;
    served once, called with --url and --function (for its labels)."""
    directory = tmp_path_factory.mktemp("broken_detector")
    (directory / "function.yaml").write_text(
        textwrap.dedent("""\
        metadata:
          name: broken-detector
          annotations:
            type: detector
            spec: '[{"id": 0, "name": "face", "type": "rectangle"}]'
        spec:
          handler: main:handler
          triggers:
            http: {kind: http, numWorkers: 1}
        """)
    )
    (directory / "main.py").write_text(BROKEN_MAIN)
    port = closed_port()
    served = serve(directory, directory / "serve-stderr.txt", "--port", str(port))
    assert served.url == f"http://127.0.0.1:{port}"  # serve --port
    yield directory, served.url
    served.stop()


def test_invalid_answer_exits_1_with_findings_and_function_log(broken: tuple[Path, str]) -> None:
    result = invoke(ASTRONAUT, "--function", broken[0], "--url", broken[1])
    assert result.returncode == 1, result.stdout + result.stderr
    assert '"cat" is not among the function\'s labels (face)' in result.stdout
    assert "about to answer" in result.stdout  # the function's log line for this request
    assert "Traceback" not in result.stdout + result.stderr


def test_http_error_exits_1_and_json_keeps_status_and_logs(broken: tuple[Path, str]) -> None:
    result = invoke(
        ASTRONAUT, "--url", broken[1], "--kind", "detector", "--threshold", "0.9", "--json"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    (request,) = doc["requests"]
    assert doc["ok"] is False and request["status"] == 500 and request["ok"] is False
    assert "model exploded" in request["body"]
    assert any(r["message"] == "about to answer" for r in request["logs"])
    assert "model exploded" in result.stderr  # the failure is also described on stderr


def test_findings_in_json_carry_severity_place_and_version(broken: tuple[Path, str]) -> None:
    result = invoke(
        ASTRONAUT, "--function", broken[0], "--url", broken[1], "--json", "--cvat-version", "2.60"
    )
    assert result.returncode == 1
    (finding,) = json.loads(result.stdout)["requests"][0]["findings"]
    assert finding["severity"] == "loss" and finding["where"] == "[0].label"
    assert finding["code"] == "label.unknown"
    assert finding["cvat_version"] == "2.60" and "cat" in finding["message"]


def test_function_that_fails_to_start() -> None:
    result = invoke(ASTRONAUT, "--function", ROOT / "tests" / "functions" / "init_fails")
    assert result.returncode == 1
    assert "did not start" in result.stderr
    assert "model.xml is missing from the function directory" in result.stderr
    # The function's traceback is shown; none of cvat-fn's own.
    frames = re.findall(r'File "([^"]+)"', result.stderr)
    assert frames and not [f for f in frames if "harness/commands" in f or "harness/cli" in f]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


BAD_INPUTS = {
    "missing image": (["missing.jpg", "--function", SAMPLES / "face_detector"], "missing.jpg"),
    "not an image": (["pyproject.toml", "--function", SAMPLES / "face_detector"], "not an image"),
    "unknown kind": (
        [ASTRONAUT, "--url", "http://127.0.0.1:9", "--kind", "segmenter"],
        "segmenter",
    ),
    "no function.yaml": ([ASTRONAUT, "--function", ROOT / "fixtures"], "no function.yaml"),
    "unreachable url": (
        [ASTRONAUT, "--url", "http://127.0.0.1:{port}", "--kind", "detector"],
        "cannot connect",
    ),
    "malformed points": (
        [ASTRONAUT, "--function", SAMPLES / "grabcut_interactor", "--pos-points", "172;385"],
        "--pos-points",
    ),
    "option of another kind": (
        [ASTRONAUT, "--function", SAMPLES / "face_detector", "--shapes", "1,2,3,4"],
        "--shapes",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_one_line_naming_the_problem(case: str) -> None:
    args, named = BAD_INPUTS[case]
    port = closed_port()
    result = invoke(*(str(a).format(port=port) for a in args))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("cvat-fn invoke: ") and named in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_serve_bad_input_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for args, named in [
            ([str(SAMPLES / "face_detector"), "--port", port], f"--port {port}"),
            ([str(ROOT / "fixtures")], "no function.yaml"),
        ]:
            result = subprocess.run(
                [sys.executable, "-m", "harness.cli", "serve", *args],
                cwd=ROOT,
                env=child_env(),
                capture_output=True,
                text=True,
                timeout=CLI_TIMEOUT_S,
            )
            assert result.returncode == 2, result.stderr
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("cvat-fn serve: "), result.stderr
            assert named in lines[0] and result.stdout == ""
