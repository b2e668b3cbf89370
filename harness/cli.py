"""cvat-fn: the command line. Each subcommand parses its flags and hands over to one module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.commands import UsageError
from harness.nuclio.runners import RunnerUnavailable
from harness.nuclio.spec import SpecError


def cmd_lint(args: argparse.Namespace) -> int:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cvat-fn", description="Run, debug and test CVAT serverless functions locally."
    )
    sub = parser.add_subparsers(dest="command", required=True)
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
    lint.set_defaults(run=cmd_lint)
    for register in EXTRA_COMMANDS:
        register(sub)
    return parser


EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = []


def _register_run_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from harness.commands import register_all  # invoke, serve

    register_all(sub)


EXTRA_COMMANDS.append(_register_run_commands)


def _register_sdk_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from harness.commands import export_nuclio  # export-nuclio (cvat-sdk functions)

    export_nuclio.register(sub)


EXTRA_COMMANDS.append(_register_sdk_commands)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not hasattr(args, "pytest_args"):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.pytest_args = [a for a in extra if a != "--"] + list(args.pytest_args)
    try:
        code: int = args.run(args)
    except (UsageError, SpecError, RunnerUnavailable) as exc:
        print(f"cvat-fn {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cvat-fn {args.command}: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
