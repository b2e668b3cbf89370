"""Static checks of a function directory: what CVAT or Nuclio would reject, without running it."""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from harness.cvat.attributes import INPUT_TYPES, number_bounds
from harness.cvat.detector import SHAPE_TYPES as DETECTOR_TYPES
from harness.cvat.findings import CVAT_VERSION, parse_version
from harness.cvat.releases import NuclioRange, shipped_nuclio
from harness.nuclio.spec import (
    HANDLER_RE,
    SpecError,
    find_function_yaml,
    function_directory,
    http_trigger,
    parse_duration,
    read_yaml_text,
)
from harness.suite.config import CONFIG_NAME, ConfigError, load_config

KINDS = ("detector", "interactor", "tracker", "reid")
# A 4K RGB frame as CVAT may send it (PNG of a video frame, worst case barely compressed),
# base64-encoded inside the JSON request body.
FOUR_K_FRAME = 3840 * 2160 * 3
MIN_BODY_FOR_4K = math.ceil(FOUR_K_FRAME * 4 / 3) + 4096
NUM_WORKERS_LIMIT = 100000  # nuclio pkg/processor/trigger/trigger.go NumWorkersLimit
IMPORT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class LintFinding:
    severity: Literal["error", "warning"]
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line else self.file
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{place}: {self.field}: {prefix}{self.message}"


def _line_index(text: str) -> dict[tuple[str, ...], int]:
    """1-based line of every mapping key and sequence item, by its path of keys; an alias is
    not walked again (the text passed read_yaml_text, so its aliases are bounded anyway)."""
    lines: dict[tuple[str, ...], int] = {}
    seen: set[int] = set()

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if id(node) in seen:  # an alias: its anchor's lines are indexed already
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, str(key.value))
                lines[sub] = key.start_mark.line + 1
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                sub = (*path, str(i))
                lines[sub] = item.start_mark.line + 1
                walk(item, sub)

    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return lines
    if root is not None:
        walk(root, ())
    return lines


class _Linter:
    def __init__(
        self, path: Path, text: str, raw: dict[str, Any], cvat_version: str = CVAT_VERSION
    ) -> None:
        self.path = path
        self.raw = raw
        self.cvat_version = cvat_version
        self.nuclio: NuclioRange = shipped_nuclio(cvat_version)
        self.lines = _line_index(text)
        self.findings: list[LintFinding] = []

    def add(self, severity: Literal["error", "warning"], field: str, message: str) -> None:
        parts = tuple(field.split("."))
        line = None
        while parts and line is None:
            line = self.lines.get(parts)
            parts = parts[:-1]
        self.findings.append(LintFinding(severity, self.path.name, line, field, message))

    def error(self, field: str, message: str) -> None:
        self.add("error", field, message)

    def warn(self, field: str, message: str) -> None:
        self.add("warning", field, message)


def _section(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def _json_hint(text: str, error: json.JSONDecodeError) -> str:
    before = text[: error.pos].rstrip()
    if before.endswith(",") and text[error.pos : error.pos + 1] in "]}":
        return " (trailing comma?)"
    if "'" in text and '"' not in text:
        return " (JSON needs double quotes)"
    return ""


INT_ANNOTATIONS = {"version": "1", "min_pos_points": "1", "min_neg_points": "-1"}
"""Annotations CVAT reads with ``int()`` for every function, and their defaults
(views.py ``LambdaFunction.__init__``)."""
BOOL_ANNOTATIONS = ("startswith_box", "startswith_box_optional")


SHAPE_TYPES = tuple(t for t in DETECTOR_TYPES if t != "tag")
SHAPE_TYPES_READ_SINCE = (2, 40)
"""First release whose ``LambdaFunction.__init__`` reads ``supported_shape_types``."""
"""cvat/apps/engine/models.py ``ShapeType``: what a tracker may declare."""


def _check_shape_types(lint: _Linter, field: str, annotations: dict[str, Any], kind: Any) -> None:
    """views.py ``LambdaFunction.__init__`` (since 2.40): the comma-separated list, stripped;
    an empty one is ``InvalidFunctionMetadataError`` (the function is left out of CVAT's list).
    ``prepare_shape`` compares each tracked shape's type with it, so an unknown name never
    matches; only trackers read it."""
    if parse_version(lint.cvat_version) < SHAPE_TYPES_READ_SINCE:
        lint.warn(
            field,
            f"CVAT {lint.cvat_version} does not read it (read since 2.40): its trackers get"
            " rectangles only",
        )
        return
    raw = annotations.get("supported_shape_types")
    # Nuclio hands annotations to CVAT as text: an unquoted false / 0 arrives as "false" / "0"
    text = "" if raw is None else str(raw).lower() if isinstance(raw, bool) else str(raw)
    names = [n.strip() for n in text.split(",")]
    names = [n for n in names if n]
    if not names:
        lint.error(
            field, "empty: CVAT leaves a function with no supported shape types out of its list"
        )
        return
    for name in names:
        if name not in SHAPE_TYPES:
            lint.warn(field, f"{name!r} is not a CVAT shape type ({', '.join(SHAPE_TYPES)})")
    if kind != "tracker":
        lint.warn(field, "only trackers use it: CVAT ignores it for a " + str(kind))
    elif "rectangle" not in names:
        # cvat-ui tools-control.tsx: trackers.filter(t => t.supportedShapeTypes.includes(RECTANGLE))
        lint.warn(
            field,
            f"without rectangle the tracker does not appear in CVAT's AI tools (as of 2.73;"
            f" judged for CVAT {lint.cvat_version})",
        )


def _check_annotations(lint: _Linter, meta: dict[str, Any]) -> None:
    """CVAT's ``LambdaFunction.__init__`` (cvat-ai/cvat ``lambda_manager/views.py``) reads
    these for every function in its list. Nuclio's config loader (sigs.k8s.io/yaml into
    ``map[string]string``) turns an unquoted number into its text, so ``version: 2`` is
    fine."""
    annotations = _section(meta, "annotations")
    where = "metadata.annotations"
    kind = annotations.get("type")
    if not annotations:
        # Nuclio's Meta.Annotations is `omitempty`; views.py reads
        # data["metadata"]["annotations"] unguarded, and that KeyError is not the
        # InvalidFunctionMetadataError that LambdaGateway.list skips
        lint.error(
            where,
            "missing: Nuclio then leaves it out of the function, and CVAT's whole function"
            " list fails on it (not just this function)",
        )
        return
    if kind is None:
        lint.error(
            f"{where}.type", f"missing: CVAT skips a function without one ({', '.join(KINDS)})"
        )
    elif kind not in KINDS:
        lint.error(
            f"{where}.type",
            f"{kind!r} is not a kind CVAT knows ({', '.join(KINDS)}); CVAT skips the function"
            " and only its log says why",
        )
    if not annotations.get("name"):
        lint.warn(f"{where}.name", "missing: CVAT lists the function under its metadata.name")
    for key, default in INT_ANNOTATIONS.items():
        value = annotations.get(key, default)
        try:
            int(str(value))
        except ValueError:
            lint.error(
                f"{where}.{key}",
                f"{value!r}: CVAT reads it with int() and its function list fails; give a whole"
                " number",
            )
    for key in BOOL_ANNOTATIONS:
        # Nuclio's loader (sigs.k8s.io/yaml into map[string]string) turns an unquoted
        # false / no / off / 0 into the text "false" / "0", and CVAT takes bool() of it
        value = annotations.get(key)
        meant_false = value is False or (not isinstance(value, bool) and value == 0)
        if meant_false or (
            isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off")
        ):
            shown = str(value).lower() if isinstance(value, bool) else repr(value)
            lint.warn(
                f"{where}.{key}",
                f"{shown} reads as true: Nuclio passes annotations to CVAT as text and CVAT"
                " takes bool() of it, true for any non-empty text; leave the annotation out"
                " for false",
            )
    if "supported_shape_types" in annotations:
        _check_shape_types(lint, f"{where}.supported_shape_types", annotations, kind)
    text = annotations.get("spec")
    if not text:  # views.py: json.loads(meta_anno.get("spec") or "[]")
        if kind == "detector":
            lint.warn(f"{where}.spec", "missing: the function declares no labels")
        return
    _check_labels(lint, f"{where}.spec", str(text))


def _check_attribute_specs(lint: _Linter, field: str, where: str, attributes: Any) -> None:
    """views.py ``parse_labels.parse_attributes``: ``attr["name"]``, ``attr["input_type"]``,
    ``attr["values"]`` for each (a KeyError breaks CVAT's whole function list), names unique
    (else the function is skipped)."""
    if not isinstance(attributes, list):
        lint.error(field, f"{where}.attributes: must be a list, got {attributes!r}")
        return
    seen: set[str] = set()
    for j, attr in enumerate(attributes):
        at = f"{where}.attributes[{j}]"
        if not isinstance(attr, dict):
            lint.error(field, f"{at}: an attribute must be an object, got {attr!r}")
            continue
        for key in ("name", "input_type", "values"):
            if key not in attr:
                lint.error(
                    field,
                    f"{at}: no {key!r}: CVAT reads it for every attribute and its function list"
                    " fails",
                )
        name = attr.get("name")
        if isinstance(name, list | dict):
            # parse_attributes: {attr["name"] for attr in attrs_spec} raises TypeError
            lint.error(field, f"{at}: name {name!r} is not text: CVAT's function list fails")
        elif name in seen:
            lint.error(field, f"{at}: duplicate attribute name {name!r}: CVAT skips the function")
        seen.add(str(name))
        input_type = attr.get("input_type")
        if "input_type" in attr and input_type not in INPUT_TYPES:
            lint.warn(
                field,
                f"{at}: input_type {input_type!r} is none CVAT checks ({', '.join(INPUT_TYPES)}):"
                " every value the function answers for it is dropped",
            )
        values = attr.get("values")
        if "values" in attr and not isinstance(values, list):
            lint.warn(
                field,
                f"{at}: values should be a list of strings, got {values!r}: CVAT lists the"
                " function, but a task label made from it gets no proper values",
            )
        elif input_type == "number" and isinstance(values, list):
            bounds = number_bounds(values)
            if bounds is None or bounds[2] == 0:
                lint.error(
                    field,
                    f"{at}: a number's values are three whole numbers [min, max, step], step not"
                    f" 0, got {values!r}: CVAT reads them with int() and fails every answer that"
                    " sends this attribute (views.py check_attr_value, since 2.35)",
                )


def _check_label_list(lint: _Linter, field: str, labels: list[Any], prefix: str) -> None:
    names: dict[str, int] = {}
    ids: dict[Any, int] = {}
    for i, label in enumerate(labels):
        where = f"{prefix}[{i}]"
        if not isinstance(label, dict):
            lint.error(field, f"{where}: a label must be an object, got {label!r}")
            continue
        # views.py parse_labels: label["name"] (KeyError), then a set of the names (TypeError
        # for a list or object); only InvalidFunctionMetadataError skips one function, any
        # other exception breaks CVAT's whole function list
        name = label.get("name")
        if "name" not in label:
            lint.error(field, f"{where}: label without a name: CVAT's function list fails")
        elif isinstance(name, list | dict):
            lint.error(field, f"{where}: name {name!r} is not text: CVAT's function list fails")
        elif not isinstance(name, str) or not name.strip():
            lint.warn(
                field,
                f"{where}: name {name!r}: CVAT lists it, but a task label needs a non-empty name",
            )
        elif name in names:
            lint.error(field, f"{where}: duplicate label name {name!r} (also [{names[name]}])")
        else:
            names[name] = i
        if "id" in label and isinstance(label["id"], int | str):
            if label["id"] in ids:
                lint.warn(
                    field,
                    f"{where}: duplicate label id {label['id']!r} (also [{ids[label['id']]}]):"
                    " CVAT never reads ids, but a main.py that maps class ids to labels does",
                )
            else:
                ids[label["id"]] = i
        if "attributes" in label:
            _check_attribute_specs(lint, field, where, label["attributes"])
        if label.get("type") == "skeleton":
            # views.py parse_labels: label["sublabels"] and label["svg"] for a skeleton
            for key in ("sublabels", "svg"):
                if key not in label:
                    lint.error(
                        field,
                        f"{where}: a skeleton needs {key!r}: CVAT reads it and its function list"
                        " fails",
                    )
            sublabels = label.get("sublabels")
            if isinstance(sublabels, list):
                _check_label_list(lint, field, sublabels, f"{where}.sublabels")
            elif sublabels is not None:
                lint.error(field, f"{where}.sublabels: must be a list of labels")


def _check_labels(lint: _Linter, field: str, text: str) -> None:
    try:
        labels = json.loads(text)
    except json.JSONDecodeError as exc:
        lint.error(
            field,
            f"invalid JSON at line {exc.lineno} column {exc.colno}{_json_hint(text, exc)}:"
            f" {exc.msg}; CVAT's function list breaks on it",
        )
        return
    if not isinstance(labels, list):
        lint.error(field, f"must be a JSON list of labels, got {type(labels).__name__}")
        return
    _check_label_list(lint, field, labels, "")


def _module_file(directory: Path, module: str) -> Path | None:
    base = directory.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _bound_names(body: list[ast.stmt], names: set[str]) -> bool:
    """Add the names a block binds at module level (through if/try/with too); True when a
    ``from ... import *`` makes the answer unknowable by reading."""
    star = False
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            for alias in node.names:
                if alias.name == "*":
                    star = True
                else:
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.If | ast.For | ast.While | ast.With | ast.AsyncWith):
            star |= _bound_names(node.body, names)
            star |= _bound_names(getattr(node, "orelse", []), names)
        elif isinstance(node, ast.Try | ast.TryStar):
            for block in (node.body, node.orelse, node.finalbody):
                star |= _bound_names(block, names)
            for handler in node.handlers:
                star |= _bound_names(handler.body, names)
    return star


def _import_check(directory: Path, module: str, function: str) -> str | None:
    """Import ``module`` in a child Python with the function directory first on sys.path, as
    Nuclio's wrapper does; None when ``function`` is there and callable, else why not."""
    code = (
        "import importlib, sys\n"
        f"sys.path.insert(0, {str(directory)!r})\n"
        f"m = importlib.import_module({module!r})\n"
        f"f = getattr(m, {function!r}, None)\n"
        "sys.exit(0 if callable(f) else 3)\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=IMPORT_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return f"importing {module} took over {IMPORT_TIMEOUT_S:g} s"
    if done.returncode == 0:
        return None
    if done.returncode == 3:
        return f"{module} has no callable {function!r} once imported"
    last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
    return f"importing {module} failed: {last}"


def _check_handler(
    lint: _Linter, spec: dict[str, Any], directory: Path, import_handler: bool
) -> None:
    handler = spec.get("handler")
    if handler is None:
        lint.warn("spec.handler", "missing: Nuclio assumes main:handler")
        handler = "main:handler"
    match = HANDLER_RE.match(str(handler))
    if not match:
        lint.error(
            "spec.handler", f"{handler!r} is malformed: expected module:function, e.g. main:handler"
        )
        return
    module, function = match.group(1), match.group(3)
    if import_handler:
        problem = _import_check(directory, module, function)
        if problem:
            lint.error("spec.handler", problem)
        return
    path = _module_file(directory, module)
    if path is None:
        lint.warn(
            "spec.handler",
            f"cannot tell: no {module.replace('.', '/')}.py in {directory.name}/ (it may come"
            " from the image); --import checks by importing it",
        )
        return
    names: set[str] = set()
    try:
        star = _bound_names(ast.parse(path.read_text(encoding="utf-8")).body, names)
    except SyntaxError as exc:
        lint.error("spec.handler", f"{path.name}:{exc.lineno}: syntax error: {exc.msg}")
        return
    if function in names:
        return
    why = "it imports names with *" if star else f"{path.name} does not define it where reading"
    lint.warn(
        "spec.handler",
        f"cannot tell whether {path.name} has {function!r}: {why} can see; --import checks by"
        " importing it",
    )


SUPPORTED_PYTHON = ("3.9", "3.10", "3.11", "3.12")
"""nuclio/nuclio ``pkg/processor/build/builder.go`` (``initializeSupportedRuntimes``) at 1.14.1,
and python:3.12 added by nuclio PR #3551 (March 2025), in the Nuclio CVAT 2.73 ships (1.16.3)."""
PYTHON_REFUSED_SINCE = {"3.6": "1.12.7"}
"""runtime.go (``GetProcessorDockerfileInfo``) refuses python:3.6 since 1.12.7 (nuclio PR #3040)."""
PYTHON_UNBUILT_SINCE = {"3.7": "1.14.1", "3.8": "1.14.1"}
"""Since 1.14.1 (nuclio PR #3431) the onbuild image carries no wheels for 3.7 and 3.8
(``docker/onbuild/Dockerfile`` copies py3.9-whl to py3.11-whl only), so their build fails, as
cvat-ai/cvat issue #9592 reports; older Nuclio builds them (with a deprecation warning)."""
PYTHON_312_MISSING_UNTIL = "1.14.1"
"""Nuclio 1.14.1 (October 2024) predates python:3.12 (nuclio PR #3551, March 2025)."""
PYTHON_312_AT = "1.16.3"
"""The first Nuclio read here that builds python:3.12."""


def _by_nuclio(
    lint: _Linter, since: str, version: str, what: str, fix: str, before: str | None = None
) -> None:
    """An error when every Nuclio the CVAT release may ship is ``since`` or newer; a warning
    when only some are (``before``: a warning for older ones too)."""
    newer = lint.nuclio.at_least(since)
    if newer:
        said = f"python:{version} {what} since {since}, and {lint.nuclio}: {fix}"
        lint.error("spec.runtime", said)
    elif newer is None:
        lint.warn(
            "spec.runtime",
            f"python:{version} may not build: it {what} since {since}, and {lint.nuclio}:"
            f" {fix}",
        )
    elif before:
        lint.warn("spec.runtime", f"python:{version} {before} ({lint.nuclio}): {fix}")


def _check_runtime(lint: _Linter, spec: dict[str, Any]) -> None:
    """nuclio ``pkg/processor/build/runtime/python/runtime.go`` (``GetProcessorDockerfileInfo``)
    and the onbuild image, for the Nuclio the stated CVAT release ships (cvat/releases.py)."""
    runtime = str(spec.get("runtime") or "")
    name, _, version = runtime.partition(":")
    fix = "use python:3.10 or newer"
    if not runtime:
        lint.warn("spec.runtime", "missing: state python:3.x so Nuclio builds the right image")
    elif name != "python":
        lint.error("spec.runtime", f"{runtime!r}: cvat-fn runs Python functions only (python:3.x)")
    elif version in PYTHON_REFUSED_SINCE:
        _by_nuclio(lint, PYTHON_REFUSED_SINCE[version], version, "is refused by Nuclio", fix,
                   before="is deprecated")  # fmt: skip
    elif version in PYTHON_UNBUILT_SINCE:
        _by_nuclio(lint, PYTHON_UNBUILT_SINCE[version], version,
                   "no longer builds on Nuclio (no wheels for it in the onbuild image)", fix,
                   before="is deprecated and builds only with a deprecation warning")  # fmt: skip
    elif version == "3.9":
        lint.warn(
            "spec.runtime",
            "python:3.9 is past its end of life and removed from Nuclio's development branch"
            " (nuclio PR #3941): use python:3.10 or newer",
        )
    elif version == "3.12" and lint.nuclio.at_least(PYTHON_312_AT) is not True:
        older = lint.nuclio.at_least(PYTHON_312_MISSING_UNTIL) is False
        lint.warn(
            "spec.runtime",
            f"python:3.12 {'is not' if older else 'may not be'} among the Python runtimes"
            f" Nuclio builds ({lint.nuclio}; added in 2025 by nuclio PR #3551): use"
            " python:3.10 or 3.11",
        )
    elif version and version not in SUPPORTED_PYTHON:
        lint.warn(
            "spec.runtime",
            f"python:{version} is not among the Python runtimes Nuclio builds"
            f" ({', '.join('python:' + v for v in SUPPORTED_PYTHON)})",
        )
    timeout = spec.get("eventTimeout")
    if timeout is not None:
        try:
            parse_duration(str(timeout))  # Nuclio: time.ParseDuration of the text
        except ValueError as exc:
            lint.error("spec.eventTimeout", str(exc))


def _check_description(lint: _Linter, spec: dict[str, Any]) -> None:
    """CVAT's ``LambdaFunction.__init__`` reads ``data["spec"]["description"]`` unguarded, and
    Nuclio leaves an empty description out of the function it reports (``omitempty``)."""
    if not spec.get("description"):
        lint.error(
            "spec.description",
            "missing or empty: CVAT reads it for every function and its whole function list"
            " fails without it",
        )


def _check_trigger(lint: _Linter, raw: dict[str, Any]) -> None:
    triggers = _section(_section(raw, "spec"), "triggers")
    http = [str(k) for k, t in triggers.items() if isinstance(t, dict) and t.get("kind") == "http"]
    if len(http) > 1:
        # nuclio pkg/functionconfig/reader.go validateConfigurationFileFunctionConfig
        lint.error(
            f"spec.triggers.{http[1]}",
            f"a second http trigger ({', '.join(http)}): Nuclio refuses more than one",
        )
    found = http_trigger(raw)
    if found is None:
        lint.warn(
            "spec.triggers",
            "no http trigger: Nuclio adds a default one, with 1 worker and 4 MiB bodies",
        )
        body_size = None
        field = "spec.triggers"
    else:
        name, trigger = found
        field = f"spec.triggers.{name}"
        if "maxWorkers" in trigger:
            # nuclio pkg/platform/abstract/platform.go enrichTriggers
            lint.warn(
                f"{field}.maxWorkers",
                "deprecated (Nuclio drops it in 1.15): use numWorkers",
            )
        workers = trigger.get("numWorkers", trigger.get("maxWorkers"))
        key = "numWorkers" if "numWorkers" in trigger else "maxWorkers"
        if workers is not None and (
            isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
        ):
            lint.error(f"{field}.{key}", f"{workers!r}: needs a whole number of at least 1")
        elif isinstance(workers, int) and workers > NUM_WORKERS_LIMIT:
            lint.error(f"{field}.{key}", f"{workers} exceeds Nuclio's limit of {NUM_WORKERS_LIMIT}")
        attrs = trigger.get("attributes") if isinstance(trigger.get("attributes"), dict) else {}
        body_size = attrs.get("maxRequestBodySize") if attrs else None
        field = f"{field}.attributes.maxRequestBodySize"
    size = body_size if isinstance(body_size, int) else 4 * 1024 * 1024
    if size < MIN_BODY_FOR_4K:
        told = "" if isinstance(body_size, int) else " (Nuclio's default)"
        lint.error(
            field,
            f"{size} bytes{told} is too small for a 4K frame in base64 (needs {MIN_BODY_FOR_4K});"
            " CVAT's functions set 33554432",
        )


def lint_directory(
    directory: Path | str, *, import_handler: bool = False, cvat_version: str | None = None
) -> list[LintFinding]:
    """Every finding for a function directory or one of its function*.yaml files; imports the
    handler's module only with ``import_handler`` (never the model: init_context is not run).
    Runtimes and fields are judged by ``cvat_version`` (default: cvat-fn.yaml's cvat_version,
    else the newest release the harness knows) and the Nuclio that release ships."""
    given = Path(directory)
    directory = function_directory(given)
    try:
        path = find_function_yaml(given)
        text, raw = read_yaml_text(path)
    except SpecError as exc:
        return [LintFinding("error", "function.yaml", None, "file", str(exc))]
    problem = None
    if cvat_version is None:
        try:
            cvat_version = load_config(directory).cvat_version
        except ConfigError as exc:
            cvat_version, problem = CVAT_VERSION, str(exc)
    lint = _Linter(path, text, raw, cvat_version)
    if problem:
        lint.findings.append(
            LintFinding("warning", CONFIG_NAME, None, "cvat_version",
                        f"not read ({problem}): judged for CVAT {CVAT_VERSION}")  # fmt: skip
        )
    meta = _section(raw, "metadata")
    spec = _section(raw, "spec")
    if not meta.get("name"):
        lint.error("metadata.name", "missing: Nuclio needs the function's name")
    _check_annotations(lint, meta)
    _check_description(lint, spec)
    _check_handler(lint, spec, directory, import_handler)
    _check_runtime(lint, spec)
    _check_trigger(lint, raw)
    return lint.findings
