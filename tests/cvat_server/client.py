"""What a test asks of the real CVAT: tasks, images, function calls, stored annotations.

Plain HTTP with basic auth, in CVAT 2.73's request formats (cvat/apps/lambda_manager/views.py:
FunctionViewSet.call, RequestViewSet.create; cvat/apps/engine/views.py: TaskViewSet.data), so a
test sees exactly what CVAT answers, status included. Waits poll with a deadline.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import requests

POLL_S = 0.2


class CvatError(AssertionError):
    """CVAT answered something a step cannot go on from; the message quotes the answer."""


def default_value(attribute: dict[str, Any]) -> str:
    """The default CVAT's UI gives a new attribute: the first value, a number's minimum,
    ``false`` for a checkbox, empty text. (CVAT validates it against ``values``.)"""
    values = [str(v) for v in attribute.get("values") or []]
    if attribute.get("input_type") == "checkbox":
        return values[0] if values else "false"
    return values[0] if values else ""


def labels_from_spec(spec: Any) -> list[dict[str, Any]]:
    """Task labels (POST /api/tasks ``labels``) for a function's spec.

    ``spec`` is the ``spec`` annotation of a function.yaml (a JSON string or its list of
    ``{id, name, type, attributes, sublabels, svg}``), or a cvat-sdk spec object
    (``DetectionFunctionSpec``: its labels as cvat-fn exports them). Ids are dropped (CVAT
    assigns its own); attributes get ``mutable: false`` and a default value as the UI does.
    """
    if isinstance(spec, str):
        spec = json.loads(spec or "[]")
    if hasattr(spec, "labels"):
        from harness.sdk.describe import cvat_labels

        spec = cvat_labels(spec)
    return [_label(item) for item in spec]


def _label(item: dict[str, Any]) -> dict[str, Any]:
    label: dict[str, Any] = {
        "name": item["name"],
        "type": item.get("type") or "any",
        "attributes": [
            {
                "name": a["name"],
                "input_type": a["input_type"],
                "values": [str(v) for v in a.get("values") or []],
                "mutable": bool(a.get("mutable", False)),
                "default_value": str(a.get("default_value", default_value(a))),
            }
            for a in item.get("attributes") or []
        ],
    }
    if label["type"] == "skeleton":
        label["sublabels"] = [_label(s) for s in item.get("sublabels") or []]
        label["svg"] = item.get("svg", "")
    return label


class CvatClient:
    """A session on one CVAT server, as one user (basic auth)."""

    def __init__(self, url: str, auth: tuple[str, str] | None, timeout: float = 150.0) -> None:
        self.url = url.rstrip("/")
        self.http = requests.Session()
        if auth:
            self.http.auth = auth
        self.timeout = timeout

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Any API call, answered as CVAT answered it (no raise on an error status)."""
        kwargs.setdefault("timeout", self.timeout)
        return self.http.request(method, self.url + path, **kwargs)

    def _ok(self, answer: requests.Response, *expected: int) -> Any:
        if answer.status_code not in (expected or (200,)):
            raise CvatError(
                f"{answer.request.method} {answer.url}: HTTP {answer.status_code}: "
                f"{answer.text[:2000]}"
            )
        return answer.json() if answer.content else None

    # -- functions ---------------------------------------------------------------------------

    def functions(self) -> list[dict[str, Any]]:
        """GET /api/lambda/functions: every function CVAT lists (id, kind, labels_v2, ...)."""
        return list(self._ok(self.request("GET", "/api/lambda/functions")))

    def call(self, function: str, **data: Any) -> requests.Response:
        """The interactive call, POST /api/lambda/functions/<id> with ``{"task", "frame",
        ...}`` (pos_points, neg_points, obj_bbox; shapes, states; ...), as the UI sends it."""
        return self.request("POST", f"/api/lambda/functions/{function}", json=data)

    def auto_annotate(self, function: str, task: int, *, timeout: float = 300.0,
                      **data: Any) -> dict[str, Any]:  # fmt: skip
        """POST /api/lambda/requests ``{"function", "task", ...}`` (``cleanup``, ``threshold``,
        ``max_distance``, ``conv_mask_to_poly``, ``mapping``, as the UI sends them), then GET
        /api/lambda/requests/<id> until the job has ended; returns the last answer, with
        ``status`` ``finished`` or ``failed`` and ``exc_info``."""
        body = {"function": function, "task": task, **data}
        job = self._ok(self.request("POST", "/api/lambda/requests", json=body))
        deadline = time.monotonic() + timeout
        while True:
            state = self._ok(self.request("GET", f"/api/lambda/requests/{job['id']}"))
            if state["status"] in ("finished", "failed"):
                return dict(state)
            if time.monotonic() > deadline:
                raise CvatError(f"auto-annotation {job['id']} still {state['status']} "
                                f"after {timeout:g}s: {state}")  # fmt: skip
            time.sleep(POLL_S)

    # -- tasks -------------------------------------------------------------------------------

    def create_task(self, name: str, labels: list[dict[str, Any]],
                    images: list[Path] | None = None) -> int:  # fmt: skip
        """POST /api/tasks; with ``images``, their upload too. Returns the task id."""
        task = self._ok(self.request("POST", "/api/tasks", json={"name": name, "labels": labels}),
                        201)  # fmt: skip
        if images:
            self.upload_images(task["id"], images)
        return int(task["id"])

    def upload_images(self, task: int, images: list[Path], *, timeout: float = 300.0) -> None:
        """POST /api/tasks/<id>/data (``client_files[i]``, ``image_quality``), then GET
        /api/requests/<rq_id> until the import has finished; raises if it failed."""
        files = {f"client_files[{i}]": (Path(p).name, Path(p).read_bytes())
                 for i, p in enumerate(images)}  # fmt: skip
        answer = self._ok(
            self.request("POST", f"/api/tasks/{task}/data", files=files,
                         data={"image_quality": 95, "sorting_method": "predefined"}),
            202,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            state = self._ok(self.request("GET", f"/api/requests/{answer['rq_id']}"))
            if state["status"] == "finished":
                return
            if state["status"] == "failed":
                raise CvatError(f"task {task}: data import failed: {state.get('message')}")
            if time.monotonic() > deadline:
                raise CvatError(f"task {task}: data import still {state['status']} after "
                                f"{timeout:g}s")  # fmt: skip
            time.sleep(POLL_S)

    def task_labels(self, task: int) -> list[dict[str, Any]]:
        """GET /api/labels?task_id=<id>: the task's labels with CVAT's ids."""
        answer = self._ok(
            self.request("GET", "/api/labels", params={"task_id": task, "page_size": 500})
        )
        return list(answer["results"])

    def annotations(self, task: int) -> dict[str, Any]:
        """GET /api/tasks/<id>/annotations: what the task stores (tags, shapes, tracks)."""
        return dict(self._ok(self.request("GET", f"/api/tasks/{task}/annotations")))

    def put_annotations(self, task: int, data: dict[str, Any]) -> dict[str, Any]:
        """PUT /api/tasks/<id>/annotations: replace what the task stores."""
        body = {"version": 0, "tags": [], "shapes": [], "tracks": [], **data}
        return dict(self._ok(self.request("PUT", f"/api/tasks/{task}/annotations", json=body)))

    def delete_task(self, task: int) -> None:
        self._ok(self.request("DELETE", f"/api/tasks/{task}"), 204)
