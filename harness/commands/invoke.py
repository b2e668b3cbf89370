"""cvat-fn invoke: send images to a function the way CVAT does and show what came back.

The function is started from its directory (or reached at ``--url``), called once per request
its kind needs, and every answer is validated for a stated CVAT version. Exit code 0 only when
every request got a valid answer; 1 on an HTTP error or an invalid answer; 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.commands.common import UsageError, fail, guarded, sdk_scratch
from harness.commands.invoke_plan import (
    Plan,
    Target,
    check_reachable,
    plan_requests,
    resolve_target,
)
from harness.cvat import CVAT_VERSION, KINDS, Shape
from harness.cvat.client import (
    DEFAULT_TIMEOUT_S,
    FunctionClient,
    ImageError,
    Invocation,
)
from harness.cvat.findings import parse_version
from harness.nuclio.runners import make_runner
from harness.nuclio.runners.base import RunningFunction, StartError
from harness.nuclio.runners.options import add_start_options, runner_kwargs
from harness.nuclio.spec import SpecError
from harness.output.invocation import Step, failure_lines, findings_lines, status_line, step_json
from harness.output.table import matches_table, shapes_table
from harness.sdk import add_parameter_option
from harness.suite.scenario import states_to_continue

if TYPE_CHECKING:
    from harness.commands.common import SubParsers

EPILOG = """\
one request per kind:
  detector    one request per IMAGE (--threshold)
  interactor  one IMAGE with --pos-points (and --neg-points, --obj-bbox)
  tracker     IMAGE1 IMAGE2 --shapes BOX...: tracking starts on IMAGE1, goes on to IMAGE2
  reid        IMAGE0 IMAGE1 --boxes0 BOX... --boxes1 BOX...: prints matches i -> j

Points are X,Y and boxes X1,Y1,X2,Y2. Options that take several values read up to the next
option, so put the images first.

examples:
  cvat-fn invoke photo.jpg --threshold 0.5 --draw out.png
  cvat-fn invoke photo.jpg --function ./my_interactor --pos-points 172,385
  cvat-fn invoke photo.jpg --roi 100,0,400,300 --draw out.png
  cvat-fn invoke f0.jpg f1.jpg --function ./my_tracker --shapes 95,55,170,120
  cvat-fn invoke f0.jpg f1.jpg --url http://127.0.0.1:8080 --kind reid \\
      --boxes0 40,40,118,118 --boxes1 62,58,140,136

exit status: 0 when every answer is valid; 1 on an HTTP error, an invalid answer (errors
among the findings) or a function that did not start; 2 on bad input.
"""


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "invoke",
        help="send images to a function as CVAT does; print, check and draw the answer",
        description=(__doc__ or "").split("\n\n")[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (see below per kind)")
    which = p.add_argument_group("which function")
    which.add_argument(
        "--function",
        metavar="DIR",
        help="function directory (default: the current one); with --url only read for its "
        "kind, labels and shape types",
    )
    add_parameter_option(
        which.add_argument, "-p", given="for a cvat-sdk --function (func.py, module:create): "
    )
    which.add_argument(
        "--url", help="call a function already running there (cvat-fn serve prints one)"
    )
    which.add_argument(
        "--kind",
        help=f"one of {', '.join(KINDS)}; needed with --url and no --function "
        "(default: function.yaml's metadata.annotations.type)",
    )
    which.add_argument(
        "--runtime",
        default="process",
        choices=("process", "docker"),
        help="how to start the function: process (default, this Python) or docker (an image"
        " built from function.yaml)",
    )
    which.add_argument(
        "--base-image", metavar="IMAGE", help="with --runtime docker: replace build.baseImage"
    )
    add_start_options(which.add_argument)
    which.add_argument(
        "--cvat-version",
        default=CVAT_VERSION,
        metavar="V",
        help=f"validate answers as this CVAT release does (default: {CVAT_VERSION})",
    )
    which.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"seconds to wait for each answer (default: {DEFAULT_TIMEOUT_S:g}, as CVAT)",
    )
    req = p.add_argument_group("request")
    req.add_argument("--threshold", type=float, metavar="T", help="detector, reid")
    req.add_argument("--pos-points", nargs="+", action="extend", metavar="X,Y", help="interactor")
    req.add_argument("--neg-points", nargs="+", action="extend", metavar="X,Y", help="interactor")
    req.add_argument("--obj-bbox", metavar="X1,Y1,X2,Y2", help="interactor: the object's box")
    req.add_argument(
        "--shapes",
        nargs="+",
        action="extend",
        metavar="X1,Y1,X2,Y2",
        help="tracker: boxes to track, on the first image",
    )
    req.add_argument(
        "--boxes0", nargs="+", action="extend", metavar="X1,Y1,X2,Y2", help="reid: on IMAGE0"
    )
    req.add_argument(
        "--boxes1", nargs="+", action="extend", metavar="X1,Y1,X2,Y2", help="reid: on IMAGE1"
    )
    req.add_argument("--max-distance", type=float, metavar="D", help="reid")
    req.add_argument(
        "--roi",
        metavar="X1,Y1,X2,Y2",
        help="detector, interactor: a region of interest in frame pixels (CVAT 2.70+): the"
        " crop is sent, prompts moved into it, and the answer shown moved back into the frame",
    )
    req.add_argument(
        "--text-prompt",
        action="append",
        metavar="TEXT",
        help="interactor: a text prompt, sent in text_prompts (repeat for several)",
    )
    out = p.add_argument_group("output")
    out.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document (and nothing else) on stdout; progress goes to stderr",
    )
    out.add_argument(
        "--draw",
        metavar="OUT.png",
        help="write a PNG with the answer drawn: detector OUT.png, or OUT-1.png, OUT-2.png... "
        "for several images; tracker on IMAGE2; reid IMAGE0 and IMAGE1 side by side",
    )
    p.set_defaults(run=guarded("invoke", run))


# --- calls -------------------------------------------------------------------------------


def progress(message: str) -> None:
    print(f"cvat-fn invoke: {message}", file=sys.stderr, flush=True)


def call(
    client: FunctionClient, kind: str, plan: Plan, running: RunningFunction | None
) -> list[Step]:
    """Send the requests the kind needs; a tracker's second call needs a valid first answer."""
    steps: list[Step] = []

    def run(title: str, send: Callable[[], Invocation]) -> Invocation:
        since = len(running.logs) if running else 0
        progress(f"{title} ...")
        inv = send()
        steps.append(Step(title, inv, running.logs.lines(since) if running else []))
        return inv

    if kind == "detector":
        for image in plan.images:
            run(
                f"detect {image.name}",
                partial(client.detect, image.path, plan.threshold, plan.roi),
            )
    elif kind == "interactor":
        image = plan.images[0]
        run(
            f"interact on {image.name}",
            partial(
                client.interact,
                image.path,
                plan.pos_points,
                plan.neg_points,
                plan.obj_bbox,
                plan.roi,
                plan.text_prompts,
            ),
        )
    elif kind == "tracker":
        first, second = plan.images
        inv = run(f"start tracking on {first.name}", partial(client.track, first.path, plan.shapes))
        states = states_to_continue(inv)
        if states is not None:
            run(f"track on {second.name}", partial(client.track, second.path, None, states))
    elif kind == "reid":
        image0, image1 = plan.images
        run(
            f"reid {image0.name} -> {image1.name}",
            partial(
                client.reid,
                image0.path,
                image1.path,
                plan.boxes0,
                plan.boxes1,
                plan.threshold,
                plan.max_distance,
            ),
        )
    return steps


# --- output ------------------------------------------------------------------------------


def text_report(steps: Sequence[Step], kind: str, plan: Plan, cvat_version: str) -> str:
    blocks = []
    for step in steps:
        inv = step.invocation
        lines = [f"== {step.title}: {status_line(inv)}", f"sent: {inv.sent}"]
        if inv.status == 200 and inv.roi is not None:
            kept = "stores them" if kind == "detector" else "hands them to the UI"
            lines.append(
                f"shapes moved back into the frame by ({inv.roi.x1}, {inv.roi.y1}),"
                f" as CVAT {kept}:"
            )
        if inv.status == 200:
            if kind == "reid":
                body = inv.body if isinstance(inv.body, list) else []
                lines.append(matches_table(body, plan.boxes0, plan.boxes1))
            else:
                lines.append(shapes_table(inv.shapes))
        lines += findings_lines(inv, cvat_version)
        if not inv.ok:
            lines += failure_lines(step)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def failure_json(target: Target | None, args: argparse.Namespace, error: str) -> dict[str, Any]:
    """--json promises one document: bad input, an unreachable --url or a function that did
    not start get one too."""
    return {
        "kind": target.kind if target else args.kind,
        "function": target.spec.name if target and target.spec else None,
        "url": args.url,
        "cvat_version": args.cvat_version,
        "labels": target.labels if target else None,
        "labels_checked": bool(target and target.labels is not None),
        "ok": False,
        "started": False,
        "error": error,
        "requests": [],
        "drawn": [],
    }


# --- drawing -----------------------------------------------------------------------------


def draw_paths(out: Path, count: int) -> list[Path]:
    if count <= 1:
        return [out]
    suffix = out.suffix or ".png"
    return [out.with_name(f"{out.stem}-{n}{suffix}") for n in range(1, count + 1)]


def roi_outline(plan: Plan) -> list[Shape]:
    """The region of interest, drawn on the whole frame beside the answer."""
    if plan.roi is None:
        return []
    r = plan.roi
    return [Shape("roi", "rectangle", [float(r.x1), float(r.y1), float(r.x2), float(r.y2)])]


def draw(steps: Sequence[Step], kind: str, plan: Plan, out: Path) -> list[Path]:
    """PNGs of the answers; which image and which shapes depends on the kind."""
    from PIL import Image as PILImage

    from harness.output.draw import draw_shapes, save_png

    answered = [s for s in steps if s.invocation.status is not None]
    if not answered:
        return []
    written: list[Path] = []
    if kind == "detector":
        paths = draw_paths(out, len(steps))
        for step, image, path in zip(steps, plan.images, paths, strict=True):
            title = f"{image.name}: {len(step.invocation.shapes)} shape(s)"
            shown = list(step.invocation.shapes) + roi_outline(plan)
            save_png(draw_shapes(image.path, shown, title=title), path)
            written.append(path)
    elif kind == "interactor":
        image = plan.images[0]
        shapes = list(answered[0].invocation.shapes)
        shapes += [Shape("pos", "points", [float(c) for c in p]) for p in plan.pos_points]
        shapes += [Shape("neg", "points", [float(c) for c in p]) for p in plan.neg_points]
        if plan.obj_bbox:
            box = [float(c) for corner in plan.obj_bbox for c in corner]
            shapes.append(Shape("obj_bbox", "rectangle", box))
        shapes += roi_outline(plan)
        save_png(draw_shapes(image.path, shapes, title=f"{image.name}: interactor"), out)
        written.append(out)
    elif kind == "tracker":
        last = answered[-1]
        image = plan.images[len(answered) - 1]
        title = f"{image.name}: {last.title}"
        numbered = [replace(s, label=f"#{i}") for i, s in enumerate(last.invocation.shapes)]
        save_png(draw_shapes(image.path, numbered, title=title), out)
        written.append(out)
    elif kind == "reid":
        matches = answered[0].invocation.body
        matches = matches if isinstance(matches, list) else []
        matched_from = {j: i for i, j in enumerate(matches) if isinstance(j, int) and j >= 0}
        # The same name on both sides marks a match: boxes0[i] is "#i", and so is its match.
        left = [
            Shape(f"#{i}", "rectangle", [float(c) for c in box])
            for i, box in enumerate(plan.boxes0)
        ]
        right = [
            Shape(
                f"#{matched_from[j]}" if j in matched_from else f"new ({j})",
                "rectangle",
                [float(c) for c in box],
            )
            for j, box in enumerate(plan.boxes1)
        ]
        image0, image1 = plan.images
        img0 = draw_shapes(image0.path, left, title=f"{image0.name}: boxes0")
        img1 = draw_shapes(image1.path, right, title=f"{image1.name}: boxes1 by match")
        size = (img0.width + img1.width, max(img0.height, img1.height))
        both = PILImage.new("RGB", size, "white")
        both.paste(img0, (0, 0))
        both.paste(img1, (img0.width, 0))
        save_png(both, out)
        written.append(out)
    return written


# --- the command -------------------------------------------------------------------------


def check_options(args: argparse.Namespace) -> None:
    try:
        parse_version(args.cvat_version)
    except ValueError as exc:
        raise UsageError(f"--cvat-version: {exc}") from None
    if not args.timeout > 0:
        raise UsageError(f"--timeout {args.timeout:g}: must be more than 0 seconds")


def run(args: argparse.Namespace) -> int:
    scratch = _sdk_function(args)  # a cvat-sdk module: run from a scratch directory
    try:
        return _run(args)
    finally:
        if scratch is not None:
            scratch.remove()


def _sdk_function(args: argparse.Namespace) -> Any:
    """``--function func.py`` (or ``module:create``): point args.function at a scratch Nuclio
    directory that runs it (harness/sdk); returns the ScratchDir, or None."""
    from harness.sdk import looks_like_sdk_ref

    if args.function is None or not looks_like_sdk_ref(args.function):
        return None
    try:
        args.function, scratch = sdk_scratch(args.function, args.function_parameter, "--function ")
    except UsageError as exc:
        if args.json:
            print(json.dumps(failure_json(None, args, str(exc)), indent=2))
        raise
    return scratch


def _run(args: argparse.Namespace) -> int:
    target: Target | None = None
    try:
        check_options(args)
        target = resolve_target(args)
        plan = plan_requests(args, target)
        if target.url is not None:
            check_reachable(target.url)
    except (UsageError, ImageError, SpecError) as exc:
        if args.json:
            print(json.dumps(failure_json(target, args, str(exc)), indent=2))
        raise
    for note in target.notes:
        progress(note)
    running: RunningFunction | None = None
    try:
        if target.url is None:
            assert target.spec is not None
            progress(
                f"starting {target.spec.name} ({target.kind}) with the {args.runtime} runner ..."
            )
            try:
                runner = make_runner(
                    args.runtime, base_image=args.base_image, **runner_kwargs(args)
                )
                running = runner.start(target.spec.directory, target.spec)
            except StartError as exc:
                fail("invoke", f"the function did not start: {exc}")
                if args.json:
                    error = f"the function did not start: {exc}"
                    print(json.dumps(failure_json(target, args, error), indent=2))
                return 1
            progress(f"ready in {running.ready_seconds:.2f} s at {running.url}")
        url = running.url if running else str(target.url)
        client = FunctionClient.for_function(
            url,
            target.spec,
            kind=target.kind,
            cvat_version=args.cvat_version,
            timeout=args.timeout,
        )
        steps = call(client, target.kind, plan, running)
    finally:
        if running is not None:
            running.stop()
    ok = all(step.invocation.ok for step in steps)
    drawn: list[Path] = []
    if args.draw:
        try:
            drawn = draw(steps, target.kind, plan, Path(args.draw))
        except OSError as exc:
            fail("invoke", f"--draw {args.draw}: cannot write it ({exc.strerror or exc})")
            ok = False
    if args.json:
        document = {
            "kind": target.kind,
            "function": target.spec.name if target.spec else None,
            "url": target.url,
            "cvat_version": args.cvat_version,
            "labels": target.labels,
            "labels_checked": target.labels is not None,
            "ok": ok,
            "started": True,
            "error": None,
            "requests": [step_json(step, target.kind) for step in steps],
            "drawn": [str(p) for p in drawn],
        }
        print(json.dumps(document, indent=2, default=str))
        for step in steps:
            if not step.invocation.ok:
                print(step.invocation.describe(), file=sys.stderr)
    else:
        print(text_report(steps, target.kind, plan, args.cvat_version))
        for path in drawn:
            print(f"drawn: {path}")
    failed = sum(not step.invocation.ok for step in steps)
    if failed:
        progress(f"{failed} of {len(steps)} request(s) failed")
    return 0 if ok else 1
