"""``cvat-fn dashboard`` in front of a real CVAT 2.73.0: CVAT is pointed at the dashboard
(``CVAT_NUCLIO_INVOKE_METHOD=dashboard``, through the session's forwarder) and lists, calls and
stores what the functions served by ``python -m harness.cli dashboard`` answer. No stand-in:
the dashboard under test is the thing CVAT talks to.

CVAT's side as in cvat/apps/lambda_manager/views.py: ``LambdaGateway.list`` (GET
/api/functions; an entry whose metadata CVAT cannot parse fails the whole list, so the
dashboard leaves it out), ``RequestViewSet.create`` / ``LambdaJob._call_detector`` (the
auto-annotation job, stored in the task).
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.suite.similarity import box_iou
from tests.cvat_server.client import CvatClient, labels_from_spec
from tests.cvat_server.server import CvatServer
from tests.dap_client import attach_with_breakpoint, stopped_locals
from tests.dashboard_helpers import Dashboard
from tests.test_dashboard import (
    HANDLER_LINE,
    SIZER_MAIN,
    fixtures_cli,
    free_port,
    suite,
    write_sizer,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_functions"
ASTRONAUT = ROOT / "fixtures" / "images" / "astronaut.jpg"
NUCLIO = {
    "face_detector": "opencv-haar-face-detector",
    "grabcut_interactor": "opencv-grabcut-interactor",
    "template_tracker": "opencv-template-tracker",
    "histogram_reid": "opencv-histogram-reid",
}
FACE = "opencv-haar-face-detector"
GOLDEN_FACE = [176, 65, 272, 161]  # sample_functions/face_detector/cvat-fn.yaml
INFER = "results = context.user_data.model.infer(image, threshold)"


@pytest.fixture
def dashboards(tmp_path: Path, cvat_server: CvatServer) -> Iterator[list[Dashboard]]:
    started: list[Dashboard] = []
    yield started
    cvat_server.use_dashboard(None)
    for dashboard in started:
        dashboard.stop()


def start(
    dashboards: list[Dashboard], cvat_server: CvatServer, tmp_path: Path, *args: str | Path
) -> Dashboard:
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    dashboard = Dashboard(args, cwd=tmp_path, tmp=scratch)
    dashboards.append(dashboard)
    cvat_server.use_dashboard(dashboard.url)
    return dashboard


def face_copy(tmp_path: Path) -> Path:
    faces = tmp_path / "faces"
    shutil.copytree(SAMPLES / "face_detector", faces)
    (faces / "cvat-fn.yaml").write_text('cvat_version: "2.73"\n')  # its fixtures are elsewhere
    return faces


def face_task(cvat: CvatClient, dashboard: Dashboard, name: str) -> int:
    spec = dashboard.functions()[FACE]["metadata"]["annotations"]["spec"]
    return cvat.create_task(name, labels_from_spec(spec), [ASTRONAUT])


def stored_box(cvat: CvatClient, task: int) -> list[float]:
    (shape,) = cvat.annotations(task)["shapes"]
    assert (shape["type"], shape["source"]) == ("rectangle", "auto")
    return list(shape["points"])


def test_cvat_lists_the_samples_leaves_out_a_broken_spec_and_stores_a_face_job(
    cvat_server: CvatServer, cvat: CvatClient, tmp_path: Path, dashboards: list[Dashboard]
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(SAMPLES / "face_detector", broken)
    text = (broken / "function.yaml").read_text()
    text = text.replace("name: opencv-haar-face-detector", "name: broken-spec", 1)
    # a trailing comma in the spec annotation: CVAT's json.loads would fail the whole list
    text = text.replace('"type": "rectangle" }', '"type": "rectangle" },', 1)
    (broken / "function.yaml").write_text(text)
    d = start(dashboards, cvat_server, tmp_path, *[SAMPLES / name for name in NUCLIO], broken)
    d.wait_line(r"broken: NOT listed for CVAT")
    for name in NUCLIO.values():
        assert d.wait_state(name)["status"]["state"] == "ready"

    listed = {f["id"]: f for f in cvat.functions()}
    assert set(listed) == set(NUCLIO.values())  # the broken one is left out, the rest stay
    assert listed[FACE]["kind"] == "detector"
    assert [label["name"] for label in listed[FACE]["labels_v2"]] == ["face"]
    assert listed["opencv-grabcut-interactor"]["kind"] == "interactor"

    task = face_task(cvat, d, "dashboard faces")
    job = cvat.auto_annotate(FACE, task, threshold=0.5)
    assert (job["status"], job["exc_info"]) == ("finished", None)
    assert box_iou(stored_box(cvat, task), GOLDEN_FACE) > 0.5
    (block,) = d.wait_blocks(1)
    assert f"{FACE} (detector) via dashboard: HTTP 200" in block
    assert "threshold 0.5" in block and "valid for CVAT 2.73" in block


def test_reload_between_two_cvat_jobs_stores_the_edited_answer(
    cvat_server: CvatServer, cvat: CvatClient, tmp_path: Path, dashboards: list[Dashboard]
) -> None:
    faces = face_copy(tmp_path)
    d = start(dashboards, cvat_server, tmp_path, faces, "--reload")
    d.wait_state(FACE)
    d.wait_line(r"--reload: watching")
    pid, services = d.proc.pid, [s.proc.pid for s in cvat_server.services]
    task = face_task(cvat, d, "reload faces")
    assert cvat.auto_annotate(FACE, task, threshold=0.5)["status"] == "finished"
    before = stored_box(cvat, task)

    main = faces / "main.py"
    source = main.read_text()
    assert INFER in source
    shift = "\n    for r in results:\n        r['points'] = [p + 10 for p in r['points']]"
    main.write_text(source.replace(INFER, INFER + shift))
    mark = len(d.err)
    d.wait_line(r"main\.py changed: restarting", since=mark)
    d.wait_line(rf"{FACE}: ready again", since=mark)

    job = cvat.auto_annotate(FACE, task, threshold=0.5, cleanup=True)
    assert (job["status"], job["exc_info"]) == ("finished", None)
    assert stored_box(cvat, task) == pytest.approx([p + 10 for p in before])
    assert d.proc.poll() is None and d.proc.pid == pid  # no restart of the dashboard
    assert [s.proc.pid for s in cvat_server.services] == services  # nor of CVAT


def test_record_a_cvat_job_then_fixtures_then_pytest_passes_and_fails_once_broken(
    cvat_server: CvatServer, cvat: CvatClient, tmp_path: Path, dashboards: list[Dashboard]
) -> None:
    faces = face_copy(tmp_path)
    record = tmp_path / "rec"
    d = start(dashboards, cvat_server, tmp_path, faces, "--record", record)
    d.wait_state(FACE)
    task = face_task(cvat, d, "record faces")
    job = cvat.auto_annotate(FACE, task, threshold=0.5)
    assert (job["status"], job["exc_info"]) == ("finished", None)
    d.wait_blocks(1)
    (recording,) = sorted(record.iterdir())
    exchange = json.loads((recording / "exchange.json").read_text())
    assert exchange["headers"]["x-nuclio-function-name"] == FACE  # as CVAT sent it
    assert exchange["request"]["fields"] == {"threshold": 0.5}

    made = fixtures_cli(record, "--into", faces / "cvat-fn.yaml", "--expect-answer", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    passed = suite(faces, tmp_path)
    assert passed.returncode == 0, passed.stdout[-3000:]
    assert "::accuracy PASSED" in passed.stdout  # judged on the new fixture, not skipped

    main = faces / "main.py"
    main.write_text(main.read_text().replace(INFER, INFER + "[:0]"))  # finds nothing now
    failed = suite(faces, tmp_path)
    assert failed.returncode == 1, failed.stdout[-3000:]
    assert "::accuracy FAILED" in failed.stdout


def test_debug_stops_in_handler_while_a_cvat_job_waits(
    cvat_server: CvatServer, cvat: CvatClient, tmp_path: Path, dashboards: list[Dashboard]
) -> None:
    pytest.importorskip("debugpy")
    sizer = write_sizer(tmp_path / "sizer")
    line = next(i for i, text in enumerate(SIZER_MAIN.splitlines(), 1) if HANDLER_LINE in text)
    port = free_port()
    d = start(dashboards, cvat_server, tmp_path, sizer, "--debug", str(port))
    d.wait_state("sizer")
    d.wait_line(rf"debugpy listens on 127\.0\.0\.1:{port}")
    task = cvat.create_task("debug sizer", [{"name": "face", "type": "rectangle"}], [ASTRONAUT])

    client = attach_with_breakpoint(port, str((sizer / "main.py").resolve()), line)
    try:
        jobs: list[dict] = []
        job = threading.Thread(target=lambda: jobs.append(cvat.auto_annotate("sizer", task)))
        job.start()  # CVAT's auto-annotation job: its call waits at the breakpoint
        thread_id, frame, values = stopped_locals(client)
        assert (frame["name"], frame["line"]) == ("handler", line)
        assert (values["width"], values["height"]) == ("512", "512")  # CVAT's frame
        assert job.is_alive()
        client.request("continue", threadId=thread_id)
        job.join(120)
        client.request("disconnect", terminateDebuggee=False)
    finally:
        client.close()
    assert (jobs[0]["status"], jobs[0]["exc_info"]) == ("finished", None)
    assert stored_box(cvat, task) == pytest.approx([0, 0, 256, 256])
