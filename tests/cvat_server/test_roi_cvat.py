"""A region of interest through a real CVAT: what the function receives is exactly what
``cvat-fn invoke --roi`` sends, and what CVAT stores (or hands the UI) is exactly what invoke
shows, moved back into the frame.

Two calls with ``"roi"``: an auto-annotation job (``POST /api/lambda/requests``, then ``GET
/api/tasks/<id>/annotations``) on tests/functions/roi_detector, and the interactive call
(``POST /api/lambda/functions/<id>``, what the UI's AI tools send) on roi_interactor, with
shifted prompts and ``text_prompts``. Both functions record every body they get
(tests/functions/roi_record.py). The frame CVAT crops is its own copy of the uploaded image
(re-encoded at the task's image quality), so invoke is given that copy: the body CVAT sent
for the same frame without a region.

Also measured: an interactor's 10x10 mask fails the call (500) with a region and passes
(200) without one, where cvat-fn's judge says ``roi.mask-size``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

import tests.cvat_server.requires_source  # noqa: F401  (skips without CVAT_SOURCE)
from harness.nuclio.spec import load_spec
from tests.cvat_server import stored as canon
from tests.cvat_server.client import CvatClient, labels_from_spec
from tests.cvat_server.server import CvatServer
from tests.test_roi_invoke import DETECTOR, INTERACTOR, ROI, ROI_ARG, invoke, recorded

ASTRONAUT = Path(__file__).resolve().parents[2] / "fixtures" / "images" / "astronaut.jpg"


def _token_client(server: CvatServer) -> CvatClient:
    """The admin with a token: basic auth would hash the password anew on every request."""
    login = server.client().request(
        "POST", "/api/auth/login", json={"username": server.username, "password": server.password}
    )
    assert login.status_code == 200, login.text
    client = CvatClient(server.url, None)
    client.http.headers["Authorization"] = f"Token {login.json()['key']}"
    return client


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the functions started after this write what they receive (their environment
    is this process's)."""
    directory = tmp_path / "cvat-sent"
    directory.mkdir()
    monkeypatch.setenv("CVAT_FN_ROI_RECORD", str(directory))
    return directory


def _last(directory: Path) -> dict[str, Any]:
    bodies = recorded(directory)
    assert bodies, f"the function recorded nothing in {directory}"
    return bodies[-1]


def _cvat_frame(body: dict[str, Any], path: Path) -> Path:
    """The frame CVAT sent without a region (its own copy of the upload), written to a file."""
    path.write_bytes(base64.b64decode(body["image"]))
    return path


def _invoke_sent(tmp_path: Path, name: str, *args: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the body invoke sent, its one --json step)."""
    directory = tmp_path / name
    directory.mkdir()
    code, out, err = invoke(directory, *args, "--json")
    steps = json.loads(out)["requests"]
    assert len(steps) == 1, err
    (sent,) = recorded(directory)
    return sent, steps[0]


def test_auto_annotation_with_a_roi(
    cvat_server: CvatServer, serve_functions: Any, record: Path, tmp_path: Path
) -> None:
    serve_functions(DETECTOR)
    cvat = _token_client(cvat_server)
    spec = load_spec(DETECTOR).annotations["spec"]
    task = cvat.create_task("roi detector", labels_from_spec(spec), [ASTRONAUT])
    try:
        whole = cvat.call("roi-detector", task=task, frame=0)
        assert whole.status_code == 200, whole.text
        frame = _cvat_frame(_last(record), tmp_path / "frame.jpg")

        state = cvat.auto_annotate("roi-detector", task, roi=list(ROI), cleanup=True)
        assert state["status"] == "finished", state
        cvat_sent = _last(record)
        kept = cvat.annotations(task)

        sent, step = _invoke_sent(tmp_path, "invoke", frame, "--function", DETECTOR,
                                  "--roi", ROI_ARG)  # fmt: skip
        assert step["ok"], step["findings"]
        # the function got the same body both ways: the same crop, byte for byte
        assert sent == cvat_sent
        assert base64.b64decode(sent["image"])[:3] == b"\xff\xd8\xff"  # a JPEG again
        labels = canon.task_labels(cvat.task_labels(task))
        by_name = {label.name: label for label in labels.values()}
        shown = canon.sent(step["in_frame"], by_name)
        assert canon.stored(kept, labels, shown) == shown
        boxes = [s["points"] for s in kept["shapes"] if s["type"] == "rectangle"]
        assert boxes == [[110.0, 60.0, 160.0, 120.0]]  # [10, 20, 60, 80] on the crop
    finally:
        cvat.delete_task(task)


def test_interactive_call_with_a_roi(
    cvat_server: CvatServer, serve_functions: Any, record: Path, tmp_path: Path
) -> None:
    serve_functions(INTERACTOR)
    cvat = _token_client(cvat_server)
    labels = labels_from_spec([{"name": "object", "type": "any"}])
    task = cvat.create_task("roi interactor", labels, [ASTRONAUT])
    prompts: dict[str, Any] = {
        "pos_points": [[224, 113]],
        "neg_points": [[120, 50]],
        "obj_bbox": [[150, 60], [300, 200]],
    }
    options = ("--pos-points", "224,113", "--neg-points", "120,50", "--obj-bbox", "150,60,300,200")
    try:
        whole = cvat.call("roi-interactor", task=task, frame=0, **prompts)
        assert whole.status_code == 200, whole.text
        frame = _cvat_frame(_last(record), tmp_path / "frame.jpg")

        for form, prompt in (("shapes", "a face"), ("legacy mask", "legacy")):
            reply = cvat.call(
                "roi-interactor", task=task, frame=0, roi=list(ROI), text_prompts=[prompt],
                **prompts,
            )  # fmt: skip
            assert reply.status_code == 200, (form, reply.text)
            cvat_sent = _last(record)
            assert cvat_sent["pos_points"] == [[124, 73]], form
            sent, step = _invoke_sent(
                tmp_path, form.replace(" ", "-"), frame, "--function", INTERACTOR,
                "--roi", ROI_ARG, "--text-prompt", prompt, *options,
            )  # fmt: skip
            assert sent == cvat_sent, form  # crop bytes, moved prompts, text_prompts
            assert step["in_frame"] == reply.json(), form  # what the UI gets

        # a mask of another size than the region: 500 with it, 200 without
        wrong = {**prompts, "text_prompts": ["wrong-size"]}
        assert cvat.call("roi-interactor", task=task, frame=0, roi=list(ROI), **wrong
                         ).status_code == 500  # fmt: skip
        assert cvat.call("roi-interactor", task=task, frame=0, **wrong).status_code == 200
        wrong_args = ("--function", INTERACTOR, "--text-prompt", "wrong-size", *options)
        _, step = _invoke_sent(tmp_path, "wrong", frame, *wrong_args, "--roi", ROI_ARG)
        assert [f["code"] for f in step["findings"] if f["severity"] == "error"] == [
            "roi.mask-size"
        ]
        _, step = _invoke_sent(tmp_path, "wrong-whole", frame, *wrong_args)
        assert not [f for f in step["findings"] if f["severity"] == "error"]
    finally:
        cvat.delete_task(task)
