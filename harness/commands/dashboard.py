"""cvat-fn dashboard: serve functions behind Nuclio's dashboard API, so your own CVAT lists
and calls them while they run here, in your editor, debugger and terminal.

The dashboard's URL goes to stdout first (a script reads one line), then the CVAT settings that
point at it; every request CVAT sends is shown as one block with its verdict. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from harness.commands.common import UsageError, guarded
from harness.cvat import CVAT_VERSION
from harness.cvat.findings import parse_version
from harness.nuclio.dashboard.api import DashboardHandler, FunctionPortHandler, Server, serve
from harness.nuclio.dashboard.registry import ERROR, READY, Registry, ServedFunction, StartOptions
from harness.nuclio.dashboard.verdicts import Verdicts
from harness.nuclio.runners import cleanup
from harness.nuclio.runners.options import add_start_options, runner_kwargs
from harness.sdk import add_parameter_option

if TYPE_CHECKING:
    from harness.commands.common import SubParsers

DEFAULT_PORT = 8070  # the dashboard's port in CVAT's components/serverless compose file
DEBUGPY_PORT = 5678  # debugpy's own default
WATCH_S = 0.5
EPILOG = """\
point CVAT at it (CVAT's settings, read when its server and workers start):
  CVAT_NUCLIO_HOST=127.0.0.1 CVAT_NUCLIO_PORT=8070 CVAT_NUCLIO_INVOKE_METHOD=dashboard
  CVAT_SERVERLESS=1

examples:
  cvat-fn dashboard ./my_model --reload
  cvat-fn dashboard serverless/openvino/omz/public/yolo-v3-tf/nuclio ./my_model --record rec
  cvat-fn dashboard ./my_model --debug          # attach an editor to 127.0.0.1:5678
  cvat-fn fixtures rec --into my_model/cvat-fn.yaml --expect-answer
"""


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "dashboard",
        help="serve functions behind Nuclio's dashboard API for your own CVAT, with live verdicts",
        description=(__doc__ or "").split("\n\n")[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="a function directory, one of its function*.yaml, or a cvat-sdk module"
        " (func.py, module:create); several may be given",
    )
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"the dashboard's port (default: {DEFAULT_PORT}, as Nuclio's)",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1; a CVAT in Docker needs one its"
        " containers reach, e.g. 0.0.0.0)",
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
    add_start_options(p.add_argument)
    add_parameter_option(p.add_argument, "-p", given="for a cvat-sdk PATH: ")
    p.add_argument(
        "--cvat-version",
        default=CVAT_VERSION,
        metavar="V",
        help=f"judge answers as this CVAT release does (default: {CVAT_VERSION})",
    )
    p.add_argument("--json-log", metavar="FILE", help="also write every verdict as a JSON line")
    p.add_argument(
        "--record",
        metavar="DIR",
        help="keep every request (images, fields), its answer and findings, one directory each"
        " (turn them into fixtures with cvat-fn fixtures)",
    )
    p.add_argument(
        "--reload",
        action="store_true",
        help="restart a function when its files change; requests wait for it (needs the"
        " dashboard extra)",
    )
    p.add_argument(
        "--debug",
        nargs="?",
        type=int,
        const=DEBUGPY_PORT,
        metavar="PORT",
        help=f"run the (first) function with one worker and debugpy listening on PORT"
        f" (default {DEBUGPY_PORT}) for your editor; process runtime (needs the debug extra)",
    )
    p.set_defaults(run=guarded("dashboard", run))


def say(message: str) -> None:
    print(f"cvat-fn dashboard: {message}", file=sys.stderr, flush=True)


def check_options(args: argparse.Namespace) -> None:
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: not a TCP port (1-65535, or 0 for a free one)")
    try:
        parse_version(args.cvat_version)
    except ValueError as exc:
        raise UsageError(f"--cvat-version: {exc}") from None
    if args.reload and importlib.util.find_spec("watchfiles") is None:
        raise UsageError("--reload needs watchfiles: pip install 'cvat-fn[dashboard]'")
    if args.debug is not None:
        if not 0 < args.debug <= 65535:
            raise UsageError(f"--debug {args.debug}: not a TCP port")
        if args.runtime != "process":
            raise UsageError("--debug: only with --runtime process (the worker runs here)")
        if args.wrapper:
            raise UsageError("--debug: not with --wrapper (only cvat-fn's worker starts debugpy)")
        if importlib.util.find_spec("debugpy") is None:
            raise UsageError("--debug needs debugpy: pip install 'cvat-fn[debug]'")
    if args.record and Path(args.record).exists() and not Path(args.record).is_dir():
        raise UsageError(f"--record {args.record}: exists and is not a directory")


def bind(host: str, port: int, handler: type, what: str) -> Server:
    try:
        return Server((host, port), handler)
    except OSError as exc:
        raise UsageError(f"{what} {host}:{port}: {exc.strerror or exc}") from None


def settings(host: str, port: int) -> list[str]:
    """What CVAT needs to call this dashboard, and how a CVAT in Docker Compose gets here."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    lines = [
        "point your CVAT at it (environment of its server and of its annotation worker):",
        f"  CVAT_NUCLIO_HOST={shown} CVAT_NUCLIO_PORT={port} CVAT_NUCLIO_INVOKE_METHOD=dashboard"
        " CVAT_SERVERLESS=1",
        "  CVAT in Docker Compose: CVAT_NUCLIO_HOST=host.docker.internal, with extra_hosts"
        ' "host.docker.internal:host-gateway" on cvat_server and cvat_worker_annotation',
    ]
    if host in ("127.0.0.1", "localhost", "::1"):
        lines.append(
            "  (containers cannot reach 127.0.0.1 of this machine: for them start the"
            " dashboard with --host 0.0.0.0, or the docker0 address)"
        )
    return lines


def run(args: argparse.Namespace) -> int:
    check_options(args)
    if args.debug is not None and len(args.paths) > 1:
        say(f"--debug: only {args.paths[0]} runs under the debugger")
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_term)
    # the runners' cleanup handlers go in now, from the main thread (functions start on others)
    cleanup.unregister(cleanup.register(lambda: None))
    dashboard = bind(args.host, args.port, DashboardHandler, "--port")
    servers = [dashboard]
    functions: list[ServedFunction] = []
    verdicts: Verdicts | None = None
    reloader = None
    registry = Registry(functions)
    try:
        base = StartOptions(
            runtime=args.runtime,
            base_image=args.base_image,
            runner=runner_kwargs(args),
            sdk_params=list(args.function_parameter),
        )
        for i, path in enumerate(args.paths):
            debug_env = {}
            if args.debug is not None and i == 0:
                debug_env = {"CVAT_FN_DEBUGPY": f"127.0.0.1:{args.debug}"}
            options = StartOptions(**{**base.__dict__, "debug_env": debug_env})
            functions.append(ServedFunction(path, options))
        registry.load_all()
        for fn in functions:
            own = bind(args.host, 0, FunctionPortHandler, f"{fn.name}'s own port")
            own.function = fn
            fn.port = own.server_address[1]
            servers.append(own)
        recorder = None
        ignored: list[Path] = []
        if args.record:
            from harness.nuclio.dashboard.recording import Recorder

            recorder = Recorder(Path(args.record))
            ignored.append(Path(args.record))
        if args.json_log:
            ignored.append(Path(args.json_log))
        try:
            verdicts = Verdicts(
                args.cvat_version,
                json_log=Path(args.json_log) if args.json_log else None,
                record=recorder,
            )
        except OSError as exc:
            raise UsageError(f"--json-log {args.json_log}: {exc.strerror or exc}") from None
        for server in servers:
            server.registry, server.verdicts = registry, verdicts
        port = dashboard.server_address[1]
        shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
        print(f"http://{shown_host}:{port}", flush=True)
        for line in settings(args.host, port):
            print(line, flush=True)
        for fn in functions:
            if fn.unlisted:
                say(f"{fn.given}: NOT listed for CVAT (its function list would fail or skip it):"
                    f" {fn.unlisted}")  # fmt: skip
        for i, server in enumerate(servers):
            serve(server, f"http-{i}", say)
        for fn in registry.listed():
            say(f"{fn.name} ({fn.spec.kind if fn.spec else '?'}): starting with the"
                f" {args.runtime} runner; its own port {args.host}:{fn.port} ...")  # fmt: skip
            threading.Thread(target=_start, args=(fn, args), daemon=True).start()
        if args.reload:
            from harness.nuclio.dashboard.reload import Reloader

            reloader = Reloader(registry, ignored, say)
            reloader.start()
            say("--reload: watching " + ", ".join(str(p) for p in reloader.roots()))
        if args.record:
            say(f"--record: each request into {args.record}/ (cvat-fn fixtures {args.record})")
        say("Ctrl-C stops it")
        while not stop.wait(WATCH_S):
            _watch_exits(functions)
        return 0  # pragma: no cover - stop is never set but by an interrupt
    except KeyboardInterrupt:
        return 0
    finally:
        if reloader is not None:
            reloader.stop()
        for server in servers:
            with contextlib.suppress(Exception):
                server.shutdown()
            server.server_close()
        registry.stop_all()
        if verdicts is not None:
            verdicts.close()
        say("stopped")


def _start(fn: ServedFunction, args: argparse.Namespace) -> None:
    fn.start()
    if fn.state == READY and fn.running is not None:
        say(f"{fn.name}: ready in {fn.running.ready_seconds:.2f} s")
        if fn.options.debug_env:
            where = fn.options.debug_env["CVAT_FN_DEBUGPY"]
            say(
                f"{fn.name}: debugpy listens on {where} (one worker, no eventTimeout): attach"
                " your editor and set breakpoints. While it is stopped CVAT waits, up to its"
                " own invoke timeout (CVAT_NUCLIO_DEFAULT_TIMEOUT, 120 s by default)"
            )
    elif fn.state == ERROR:
        say(f"{fn.name}: did not start; listed, and answers 503 with this error:\n{fn.message}")


def _watch_exits(functions: list[ServedFunction]) -> None:
    """A function that ended by itself answers 503 from then on, and the terminal says why."""
    for fn in functions:
        with fn.cond:
            running = fn.running
            if fn.state != READY or running is None:
                continue
            code = running.exit_code()
            if code is None:
                continue
            fn.state, fn.message = ERROR, f"{fn.name}: the function exited (code {code})"
        tail = "\n".join(running.logs.lines(max(0, len(running.logs) - 20)))
        say(f"{fn.message}; it answers 503 until it is restarted. Its last output:\n{tail}")
