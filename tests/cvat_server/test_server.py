"""The fixture itself: the CVAT it starts is the release in CVAT_SOURCE, its policies decide, and
its dashboard is the one the test chooses."""

from __future__ import annotations

import re

from tests.cvat_server.client import CvatClient
from tests.cvat_server.server import CvatServer


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
