"""pytest plugin: ``pytest --function DIR`` runs cvat-fn's built-in suite against a function."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cvat-fn", "CVAT serverless functions")
    group.addoption(
        "--function",
        action="append",
        default=[],
        metavar="DIR",
        help="function directory (function.yaml + main.py) to start and test; repeatable",
    )
