"""cvat-fn build: the function's image, built from function.yaml as nuctl would lay it out
(the code copied in), and tagged by its content, so the docker runner starts it without a
rebuild where it copies the code in too (in CI, or with CVAT_FN_DOCKER_CODE=copy)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from harness.commands.common import fail, guarded
from harness.nuclio.runners import StartError, make_runner
from harness.nuclio.runners.docker import DockerRunner
from harness.nuclio.spec import load_spec

if TYPE_CHECKING:
    from harness.commands.common import SubParsers


def register(sub: SubParsers) -> None:
    p = sub.add_parser("build", help="build and tag the function's image (docker runtime)")
    p.add_argument("directory", nargs="?", default=".", metavar="DIR")
    p.add_argument("--base-image", metavar="IMAGE", help="replace build.baseImage")
    p.add_argument(
        "--no-pull", action="store_true", help="never pull a missing base image (offline machines)"
    )
    p.set_defaults(run=guarded("build", run))


def run(args: argparse.Namespace) -> int:
    spec = load_spec(args.directory)
    runner = make_runner("docker", base_image=args.base_image, pull=not args.no_pull)
    assert isinstance(runner, DockerRunner)
    try:
        tag, image_id, _ = runner.ensure_image(spec, code="copy")  # as Nuclio builds it
    except StartError as exc:
        fail("build", str(exc))
        return 1
    print(f"{tag} {image_id}")
    return 0
