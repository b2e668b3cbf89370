"""cvat-fn lint: function.yaml and the handler checked without running them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.commands.common import UsageError

if TYPE_CHECKING:
    from harness.commands.common import SubParsers


def register(sub: SubParsers) -> None:
    lint = sub.add_parser("lint", help="check function.yaml and the handler without running them")
    lint.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="a function's directory or one of its function*.yaml files; several may be given"
        " (default: .)",
    )
    lint.add_argument(
        "--import",
        dest="import_handler",
        action="store_true",
        help="import the handler's module to find the handler when reading it cannot tell"
        " (runs the module's top level, not init_context)",
    )
    lint.add_argument(
        "--cvat-version",
        metavar="X.Y",
        help="judge runtimes and fields by this CVAT release and the Nuclio it ships (default:"
        " cvat-fn.yaml's cvat_version, else the newest the harness knows)",
    )
    lint.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Each path on its own, a total when there are several (``cvat-fn lint
    serverless/**/function*.yaml``); exit 1 when any has an error."""
    from harness.cvat.findings import parse_version
    from harness.cvat.lint import lint_directory

    if args.cvat_version is not None:
        try:
            parse_version(args.cvat_version)
        except ValueError as exc:
            raise UsageError(f"--cvat-version: {exc}") from None
    total_errors = total_warnings = 0
    paths = args.paths or ["."]
    for given in paths:
        findings = lint_directory(
            Path(given), import_handler=args.import_handler, cvat_version=args.cvat_version
        )
        for finding in findings:
            print(finding if len(paths) == 1 else f"{given}: {finding}")
        errors = sum(f.severity == "error" for f in findings)
        total_errors += errors
        total_warnings += len(findings) - errors
        print(f"{given}: {errors} error(s), {len(findings) - errors} warning(s)", file=sys.stderr)
    if len(paths) > 1:
        print(
            f"{len(paths)} functions: {total_errors} error(s), {total_warnings} warning(s)",
            file=sys.stderr,
        )
    return 1 if total_errors else 0
