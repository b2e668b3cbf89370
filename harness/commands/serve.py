"""cvat-fn serve: keep a function running for repeated `cvat-fn invoke --url` calls.

The URL goes to stdout first (a script reads one line), then an example invoke line; the
function's log lines stream to stderr until Ctrl-C, which stops it and exits 0.
"""

from __future__ import annotations

import argparse
import shlex
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.commands.common import UsageError, fail, guarded, sdk_scratch
from harness.nuclio.runners import RunningFunction, make_runner
from harness.nuclio.runners.base import StartError
from harness.nuclio.runners.options import add_start_options, runner_kwargs
from harness.nuclio.spec import FunctionSpec, load_spec
from harness.output.logformat import format_line
from harness.sdk import add_parameter_option

if TYPE_CHECKING:
    from harness.commands.common import SubParsers

POLL_S = 0.2
EXAMPLE_ARGS = {
    "detector": "IMAGE --threshold 0.5",
    "interactor": "IMAGE --pos-points X,Y",
    "tracker": "IMAGE1 IMAGE2 --shapes X1,Y1,X2,Y2",
    "reid": "IMAGE0 IMAGE1 --boxes0 X1,Y1,X2,Y2 --boxes1 X1,Y1,X2,Y2",
}


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "serve",
        help="start a function and keep it running for cvat-fn invoke --url",
        description=(__doc__ or "").split("\n\n")[0],
    )
    p.add_argument(
        "directory",
        nargs="?",
        default=".",
        metavar="DIR",
        help="function directory (default: the current one)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=0,
        help="HTTP port on 127.0.0.1, with either runtime (default: a free one)",
    )
    p.add_argument(
        "--runtime",
        default="process",
        choices=("process", "docker"),
        help="process (default, this Python) or docker (an image built from function.yaml)",
    )
    p.add_argument(
        "--base-image", metavar="IMAGE", help="with --runtime docker: replace build.baseImage"
    )
    add_parameter_option(
        p.add_argument, "-p", given="for a cvat-sdk DIR (func.py, module:create): "
    )
    add_start_options(p.add_argument)
    p.set_defaults(run=guarded("serve", run))


def example(spec: FunctionSpec, url: str, module: str | None = None) -> str:
    kind = spec.kind or "detector"
    args = EXAMPLE_ARGS.get(kind, "IMAGE")
    directory = spec.directory
    try:
        shown = module or str(directory.relative_to(Path.cwd())) or "."
    except ValueError:
        shown = str(directory)
    return f"cvat-fn invoke {args} --url {url} --function {shlex.quote(shown)}"


def check_port_free(port: int) -> None:
    """A taken port is the user's to change: one line, not the runtime's bind traceback."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the runtime's server
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise UsageError(f"--port {port}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    scratch = _sdk_function(args)  # a cvat-sdk module: served from a scratch directory
    try:
        return _run(args)
    finally:
        if scratch is not None:
            scratch.remove()


def _sdk_function(args: argparse.Namespace) -> Any:
    """DIR given as ``func.py`` or ``module:create`` (harness/sdk): point it at a scratch
    Nuclio directory running the module; the example names the module. The ScratchDir or
    None."""
    from harness.sdk import looks_like_sdk_ref

    args.shown = None
    if not looks_like_sdk_ref(str(args.directory)):
        return None
    args.shown = str(args.directory)
    args.directory, scratch = sdk_scratch(args.shown, args.function_parameter)
    return scratch


def _run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: not a TCP port (1-65535, or 0 for a free one)")
    if args.port:
        check_port_free(args.port)
    spec = load_spec(args.directory)
    print(f"cvat-fn serve: starting {spec.name} ({spec.kind}) ...", file=sys.stderr, flush=True)
    running: RunningFunction | None = None
    shown = 0

    def stream() -> None:
        nonlocal shown
        assert running is not None
        lines = running.logs.lines(shown)
        shown += len(lines)
        for line in lines:
            print(format_line(line), file=sys.stderr, flush=True)

    try:
        try:
            runner = make_runner(
                args.runtime, base_image=args.base_image, port=args.port, **runner_kwargs(args)
            )
            started = runner.start(spec.directory, spec)
        except StartError as exc:
            fail("serve", f"the function did not start: {exc}")
            return 1
        running = started
        print(running.url, flush=True)
        print(f"try: {example(spec, running.url, args.shown)}", flush=True)
        health = getattr(running, "health_url", None)  # a url runner's function has its own
        if health:
            print(f"cvat-fn serve: health at {health}/ready and /live", file=sys.stderr, flush=True)
        stream()
        print(
            f"cvat-fn serve: ready in {running.ready_seconds:.2f} s; Ctrl-C stops it",
            file=sys.stderr,
            flush=True,
        )
        while True:
            stream()
            code = running.exit_code()
            if code is None:
                time.sleep(POLL_S)  # polling the log buffer: nothing to wait on
                continue
            stream()
            fail("serve", f"the function exited (code {code})")
            return 1
    except KeyboardInterrupt:
        if running is not None:
            running.stop()
            stream()
        print("cvat-fn serve: stopped", file=sys.stderr, flush=True)
        return 0
    finally:
        if running is not None:
            running.stop()
