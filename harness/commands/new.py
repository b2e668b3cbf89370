"""cvat-fn new: a model repository of one kind, ready to push (see harness.nuclio.scaffold)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness.commands.common import UsageError, guarded
from harness.nuclio.scaffold import KINDS, ScaffoldError, create

if TYPE_CHECKING:
    from harness.commands.common import SubParsers


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "new",
        help="write a model repository (function, demo model, tests, release workflow)",
        description=(
            "Write a model repository into DIR (new or empty): function.yaml, main.py,"
            " model_handler.py with a small demo model, Dockerfile, cvat-fn.yaml, tests,"
            " ci/release.sh and GitHub workflows. Replace the demo model with yours."
        ),
    )
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--kind", choices=list(KINDS), required=True)
    p.add_argument("--name", help="the function's metadata.name (default: DIR's name, lowercased)")
    p.add_argument(
        "--image",
        metavar="REGISTRY/NAME",
        help="where releases push the model's image (default: ghcr.io/OWNER/NAME)",
    )
    p.set_defaults(run=guarded("new", run))


def run(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    try:
        name = create(directory, args.kind, args.name, args.image)
    except ScaffoldError as exc:
        raise UsageError(str(exc)) from None
    print(f"{directory}: a new {args.kind} function, {name}. Next:")
    print(f"  cd {directory} && cvat-fn lint && pytest --function . tests")
    return 0
