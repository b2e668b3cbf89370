"""What cvat-fn invoke will send: options and images checked and turned into a Plan, and
the function to send it to (a directory, or a URL), before anything is started."""

from __future__ import annotations

import argparse
import math
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from harness.commands.common import UsageError
from harness.cvat import KINDS
from harness.cvat.client import read_image as read_image_file
from harness.cvat.findings import ROI_SINCE, TEXT_PROMPTS_SINCE, parse_version
from harness.cvat.roi import Roi, RoiError
from harness.nuclio.spec import FunctionSpec, load_spec

IMAGES_NEEDED = {
    "detector": "IMAGE...",
    "interactor": "IMAGE",
    "tracker": "IMAGE1 IMAGE2",
    "reid": "IMAGE0 IMAGE1",
}
OPTION_KINDS = {
    "pos_points": ("interactor",),
    "neg_points": ("interactor",),
    "obj_bbox": ("interactor",),
    "shapes": ("tracker",),
    "boxes0": ("reid",),
    "boxes1": ("reid",),
    "max_distance": ("reid",),
    "threshold": ("detector", "reid"),
    "roi": ("detector", "interactor"),  # views.py: "ROI is not supported for <kind> functions"
    "text_prompt": ("interactor",),
}


def parse_numbers(text: str, count: int, option: str) -> list[float | int]:
    """``"1,2"`` -> ``[1, 2]``; UsageError naming the option and the value otherwise."""
    what = {2: "X,Y", 4: "X1,Y1,X2,Y2"}[count]
    parts = [p.strip() for p in text.split(",")]
    values: list[float | int] = []
    for part in parts:
        try:
            v = float(part)
        except ValueError:
            v = math.nan
        if not math.isfinite(v):
            hint = "" if any(c.isdigit() for c in text) else " (put the images before it)"
            raise UsageError(f"{option}: {text!r} is not {what}{hint}")
        values.append(int(v) if v.is_integer() else v)
    if len(values) != count:
        raise UsageError(f"{option}: {text!r} is not {what} ({len(values)} numbers, not {count})")
    return values


def parse_list(items: Sequence[str] | None, count: int, option: str) -> list[list[float | int]]:
    return [parse_numbers(item, count, option) for item in items or ()]


@dataclass
class Image:
    path: Path
    name: str
    size: tuple[int, int]


def read_image(path: str) -> Image:
    """Checked before the function starts, so a wrong file costs no start-up."""
    _, name, size = read_image_file(Path(path))
    return Image(Path(path), name, size)


@dataclass
class Target:
    """What is called and how its answers are judged."""

    kind: str
    spec: FunctionSpec | None
    url: str | None
    labels: list[str] | None
    """The declared labels' names, shown in --json; the answers are judged against the
    labels themselves (FunctionClient.for_function)."""
    notes: list[str] = field(default_factory=list)


def resolve_target(args: argparse.Namespace) -> Target:
    if args.kind is not None and args.kind not in KINDS:
        raise UsageError(f"--kind {args.kind}: unknown kind; CVAT calls {', '.join(KINDS)}")
    spec: FunctionSpec | None = None
    if args.url is None or args.function is not None:
        spec = load_spec(args.function or ".")
    kind = args.kind or (spec.kind if spec else None)
    if kind is None:
        if spec is None:
            raise UsageError("--url without --function needs --kind (" + ", ".join(KINDS) + ")")
        raise UsageError(
            f"{spec.path}: metadata.annotations.type is missing; give --kind ({', '.join(KINDS)})"
        )
    if kind not in KINDS:
        raise UsageError(
            f"{spec.path if spec else '--kind'}: type {kind!r} is not a kind CVAT calls"
            f" ({', '.join(KINDS)}); CVAT skips this function"
        )
    target = Target(
        kind=kind,
        spec=spec,
        url=args.url,
        labels=spec.label_names if spec else None,
    )
    if spec and args.kind and spec.kind != args.kind:
        target.notes.append(f"--kind {args.kind} overrides function.yaml's type {spec.kind!r}")
    if spec is None:
        note = "no function directory given: labels are not checked (give --function DIR)"
        if kind == "tracker":
            note += "; shapes go as legacy point lists, as to a tracker without"
            note += " supported_shape_types"
        target.notes.append(note)
    return target


@dataclass
class Plan:
    """The parsed request inputs for one kind."""

    images: list[Image]
    threshold: float | None = None
    max_distance: float | None = None
    pos_points: list[list[float | int]] = field(default_factory=list)
    neg_points: list[list[float | int]] = field(default_factory=list)
    obj_bbox: list[list[float | int]] | None = None
    shapes: list[list[float | int]] = field(default_factory=list)
    boxes0: list[list[float | int]] = field(default_factory=list)
    boxes1: list[list[float | int]] = field(default_factory=list)
    roi: Roi | None = None
    text_prompts: list[str] = field(default_factory=list)


def _since(version: tuple[int, int]) -> str:
    return ".".join(str(v) for v in version)


def plan_region(args: argparse.Namespace, plan: Plan) -> None:
    """--roi and --text-prompt: checked against the release judged for and every image, so
    a region CVAT would refuse (400) is a usage error before anything starts."""
    version = parse_version(args.cvat_version)
    if args.roi is not None:
        if version < ROI_SINCE:
            raise UsageError(
                f"--roi: CVAT {args.cvat_version} sends no region of interest (since"
                f" {_since(ROI_SINCE)})"
            )
        try:
            plan.roi = Roi.parse(args.roi)
            for image in plan.images:
                try:
                    plan.roi.check_inside(image.size)
                except RoiError as exc:
                    raise RoiError(f"{exc} of {image.name}") from None
        except RoiError as exc:
            raise UsageError(f"--roi: {exc}") from None
    if args.text_prompt is not None:
        if version < TEXT_PROMPTS_SINCE:
            raise UsageError(
                f"--text-prompt: CVAT {args.cvat_version} sends no text prompts (known since"
                f" {_since(TEXT_PROMPTS_SINCE)})"
            )
        if not all(t.strip() for t in args.text_prompt):
            raise UsageError("--text-prompt: an empty prompt")
        plan.text_prompts = list(args.text_prompt)


def plan_requests(args: argparse.Namespace, target: Target) -> Plan:
    kind = target.kind
    for dest, kinds in OPTION_KINDS.items():
        if getattr(args, dest) is not None and kind not in kinds:
            option = "--" + dest.replace("_", "-")
            raise UsageError(f"{option} is for {' and '.join(kinds)} functions, not {a(kind)}")
    wanted = {"interactor": 1, "tracker": 2, "reid": 2}.get(kind)
    if wanted is not None and len(args.images) != wanted:
        raise UsageError(f"{a(kind)} takes {IMAGES_NEEDED[kind]}, got {len(args.images)} image(s)")
    plan = Plan([read_image(path) for path in args.images], args.threshold, args.max_distance)
    plan_region(args, plan)
    if kind == "interactor":
        plan.pos_points = parse_list(args.pos_points, 2, "--pos-points")
        plan.neg_points = parse_list(args.neg_points, 2, "--neg-points")
        if args.obj_bbox is not None:
            box = parse_numbers(args.obj_bbox, 4, "--obj-bbox")
            plan.obj_bbox = [box[:2], box[2:]]
        annotations = target.spec.annotations if target.spec else {}
        min_pos = _int(annotations.get("min_pos_points"), 1)  # CVAT's defaults: 1 and none
        min_neg = _int(annotations.get("min_neg_points"), -1)
        if len(plan.pos_points) < min_pos:
            raise UsageError(f"this interactor needs at least {min_pos} --pos-points X,Y")
        if not plan.pos_points and plan.obj_bbox is None:
            raise UsageError("an interactor needs --pos-points X,Y ... or --obj-bbox X1,Y1,X2,Y2")
        if len(plan.neg_points) < min_neg:
            raise UsageError(f"this interactor needs at least {min_neg} --neg-points X,Y")
    elif kind == "tracker":
        plan.shapes = parse_list(args.shapes, 4, "--shapes")
        if not plan.shapes:
            raise UsageError("a tracker needs --shapes X1,Y1,X2,Y2 ... on the first image")
    elif kind == "reid":
        plan.boxes0 = parse_list(args.boxes0, 4, "--boxes0")
        plan.boxes1 = parse_list(args.boxes1, 4, "--boxes1")
        if not plan.boxes0 or not plan.boxes1:
            raise UsageError("a reid function needs --boxes0 X1,Y1,X2,Y2 ... and --boxes1 ...")
    return plan


def a(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def check_reachable(url: str, timeout: float = 3.0) -> None:
    """UsageError unless something listens at ``url`` (checked before any image is sent)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--url {url}: not an http:// URL such as http://127.0.0.1:8080")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UsageError(f"--url {url}: the port is not a number") from None
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise UsageError(
            f"--url {url}: cannot connect ({reason}); is the function running (cvat-fn serve)?"
        ) from None
