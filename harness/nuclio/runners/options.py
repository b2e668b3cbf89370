"""The runner options every entry point shares (pytest, invoke, serve, eval; test passes them on),
declared once so their names and help read the same everywhere."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Add = Callable[..., Any]


def add_runner_options(add: Add) -> None:
    """Declare the options with ``add``: an argparse group's add_argument or pytest's addoption."""
    add_start_options(add)
    add_reach_options(add)


def add_start_options(add: Add) -> None:
    """Options of the runners that start the function (process, docker)."""
    add(
        "--wrapper",
        metavar="PATH",
        help="run this _nuclio_wrapper.py as every worker instead of cvat-fn's own (e.g."
        " Nuclio's, from a Nuclio image or source checkout); process and docker runtimes",
    )
    add(
        "--no-pull",
        action="store_true",
        default=False,
        help="with --runtime docker: never pull a missing base image (offline machines)",
    )


def add_reach_options(add: Add) -> None:
    """Options of the url runner through Nuclio's dashboard."""
    add(
        "--nuclio-dashboard",
        metavar="URL",
        help="with --runtime url: reach a deployed function through Nuclio's dashboard, as CVAT"
        " does (needs --function-name)",
    )
    add("--function-name", metavar="NAME", help="with --nuclio-dashboard: the function's name")
    add(
        "--namespace",
        metavar="NS",
        default="nuclio",
        help="with --nuclio-dashboard: the function's namespace (default: nuclio)",
    )


def runner_kwargs(options: argparse.Namespace | Any) -> dict[str, Any]:
    """make_runner's keyword arguments from parsed options (argparse or pytest's)."""
    get = options.getoption if hasattr(options, "getoption") else options.__dict__.get
    return {
        "wrapper": get("wrapper"),
        "pull": not get("no_pull"),
        "dashboard": get("nuclio_dashboard"),
        "function_name": get("function_name"),
        "namespace": get("namespace") or "nuclio",
    }
