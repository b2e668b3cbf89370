"""cvat-fn test: the built-in suite with JUnit, JSON and HTML reports, as a CI gate.

Exit code 0 only when every check holds; the JUnit file is written in every case.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.commands import UsageError, guarded
from harness.runners import RUNTIMES
from harness.spec import find_function_yaml

if TYPE_CHECKING:
    from harness.commands import SubParsers


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "test",
        help="run the built-in suite with reports; exit 0 only when everything holds",
        description=(__doc__ or "").split("\n\n")[0],
    )
    p.add_argument("directory", nargs="?", default=".", metavar="DIR")
    p.add_argument("--runtime", choices=RUNTIMES, default="process")
    p.add_argument("--base-image", metavar="IMAGE", help="with --runtime docker")
    p.add_argument("--function-url", metavar="URL", help="with --runtime url")
    p.add_argument(
        "--report-dir",
        type=Path,
        default=Path("cvat-fn-report"),
        help="where junit.xml, report.json and report.html go (default: ./cvat-fn-report)",
    )
    p.add_argument(
        "pytest_args",
        nargs="*",
        metavar="PYTEST_OPTION",
        help="any other option goes to pytest, e.g. --budget p95_ms=500 or -k threshold",
    )
    p.set_defaults(run=guarded("test", run))


def pytest_arguments(args: argparse.Namespace) -> list[str]:
    report = args.report_dir
    command = [
        "--function", str(args.directory),
        "--runtime", args.runtime,
        "--junitxml", str(report / "junit.xml"),
        "--cvat-fn-json", str(report / "report.json"),
        "--cvat-fn-html", str(report / "report.html"),
        "-p", "no:cacheprovider",
        "--rootdir", str(Path(args.directory).resolve()),
        "-q", "-rfE",
    ]  # fmt: skip
    if args.base_image:
        command += ["--base-image", args.base_image]
    if args.function_url:
        command += ["--function-url", args.function_url]
    return command + list(args.pytest_args or [])


def run(args: argparse.Namespace) -> int:
    import pytest

    try:
        find_function_yaml(Path(args.directory))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    args.report_dir.mkdir(parents=True, exist_ok=True)
    code = int(pytest.main(pytest_arguments(args)))
    verdict = "PASSED" if code == 0 else "FAILED"
    print(f"cvat-fn test: {verdict}; reports in {args.report_dir}/", file=sys.stderr)
    return code
