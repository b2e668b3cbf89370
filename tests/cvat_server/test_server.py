"""The fixture itself: the CVAT it starts is the release in CVAT_SOURCE, its policies decide, and
its dashboard is the one the test chooses."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import tests.cvat_server.requires_source  # noqa: F401  (skips without CVAT_SOURCE)
from tests.cvat_server.client import CvatClient
from tests.cvat_server.server import CvatServer
from tests.nuclio_dashboard import StandInDashboard


def test_the_server_is_the_release_of_the_source(cvat_server: CvatServer, cvat: CvatClient) -> None:
    init = (cvat_server.source / "cvat" / "__init__.py").read_text()
    major, minor, patch = re.search(r"VERSION = \((\d+), (\d+), (\d+)", init).groups()  # type: ignore[union-attr]
    about = cvat.request("GET", "/api/server/about").json()
    assert about["version"] == f"{major}.{minor}.{patch}"


def test_without_credentials_cvat_refuses(cvat_server: CvatServer) -> None:
    anonymous = CvatClient(cvat_server.url, None)
    assert anonymous.request("GET", "/api/tasks").status_code == 401


def test_without_a_dashboard_cvat_answers_503(cvat_server: CvatServer, cvat: CvatClient) -> None:
    """LambdaGateway._http raises for the forwarder's 503; return_response passes the status on."""
    cvat_server.use_dashboard(None)
    answer = cvat.request("GET", "/api/lambda/functions")
    assert answer.status_code == 503
    assert f":{cvat_server.forwarder.port}/api/functions" in answer.text


def test_cvats_own_policies_decide(cvat_server: CvatServer, cvat: CvatClient) -> None:
    """The OPA endpoint evaluates CVAT's Rego rules (cvat/apps/engine/rules/tasks.rego): a
    registered user who neither owns nor is assigned a task may not see it; the admin may."""
    task = cvat.create_task("admin's", [{"name": "thing", "type": "any"}])
    password = "Stranger-pw-12345"
    registered = CvatClient(cvat_server.url, None).request(
        "POST",
        "/api/auth/register",
        json={"username": "stranger", "email": "stranger@localhost", "first_name": "S",
              "last_name": "T", "password1": password, "password2": password},
    )  # fmt: skip
    assert registered.status_code == 201, registered.text
    stranger = CvatClient(cvat_server.url, ("stranger", password))
    assert stranger.request("GET", f"/api/tasks/{task}").status_code == 403
    assert stranger.request("GET", "/api/tasks").json()["count"] == 0  # the "filter" rule
    assert cvat.request("GET", f"/api/tasks/{task}").status_code == 200


def test_each_test_chooses_the_dashboard_cvat_uses(
    cvat: CvatClient, serve_functions: Callable[..., StandInDashboard]
) -> None:
    """CVAT keeps the forwarder's address for the session; where it forwards is the test's."""
    samples = Path(__file__).resolve().parents[2] / "sample_functions"
    first = serve_functions(samples / "face_detector")
    assert [f["id"] for f in cvat.functions()] == ["opencv-haar-face-detector"]
    second = serve_functions(samples / "histogram_reid")
    assert [f["id"] for f in cvat.functions()] == ["opencv-histogram-reid"]
    # what CVAT sent (LambdaGateway._http): its headers reach the chosen dashboard unchanged
    ((method, path, headers),) = second.requests
    assert (method, path, headers["x-nuclio-project-name"]) == ("GET", "/api/functions", "cvat")
    assert headers["x-nuclio-function-namespace"] == "nuclio"
    assert len(first.requests) == 1
