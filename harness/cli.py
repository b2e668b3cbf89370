"""cvat-fn: the command line. Each subcommand is one module of harness.commands (its flags and
its run); this module only assembles them and turns their errors into exit codes."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from harness.commands import COMMANDS
from harness.commands.common import UsageError
from harness.nuclio.runners import RunnerUnavailable
from harness.nuclio.spec import SpecError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cvat-fn", description="Run, debug and test CVAT serverless functions locally."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"harness.commands.{name}").register(sub)
    return parser


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
