"""cvat-fn pin: function.yaml's build.baseImage set to an image digest, comments kept."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness.commands.common import UsageError, guarded
from harness.nuclio.pinning import PinError, pin_base_image

if TYPE_CHECKING:
    from harness.commands.common import SubParsers


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "pin",
        help="set function.yaml's build.baseImage to IMAGE@sha256:... (comments kept)",
        description=(
            "Rewrite spec.build.baseImage of a function.yaml in place, so nuctl deploy builds"
            " the function on exactly the image that was tested. Comments and layout are kept."
        ),
    )
    p.add_argument("function_yaml", metavar="FUNCTION_YAML", type=Path)
    p.add_argument("--base-image", required=True, metavar="IMAGE@sha256:DIGEST")
    p.add_argument(
        "--allow-tag",
        action="store_true",
        help="accept a tag (IMAGE:TAG) instead of a digest; the result is not reproducible",
    )
    p.set_defaults(run=guarded("pin", run))


def run(args: argparse.Namespace) -> int:
    try:
        previous = pin_base_image(
            args.function_yaml, args.base_image, require_digest=not args.allow_tag
        )
    except PinError as exc:
        raise UsageError(str(exc)) from None
    print(f"{args.function_yaml}: build.baseImage {previous or '(none)'} -> {args.base_image}")
    return 0
