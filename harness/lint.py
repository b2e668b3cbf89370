"""Static checks of a function directory: what CVAT or Nuclio would reject, without running it."""

from __future__ import annotations

import ast
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from harness.spec import (
    HANDLER_RE,
    SpecError,
    find_function_yaml,
    http_trigger,
    parse_duration,
    read_yaml,
)

KINDS = ("detector", "interactor", "tracker", "reid")
# A 4K RGB frame as CVAT may send it (PNG of a video frame, worst case barely compressed),
# base64-encoded inside the JSON request body.
FOUR_K_FRAME = 3840 * 2160 * 3
MIN_BODY_FOR_4K = math.ceil(FOUR_K_FRAME * 4 / 3) + 4096


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
    """1-based line of every mapping key and sequence item, by its path of keys."""
    lines: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
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
    def __init__(self, path: Path, text: str, raw: dict[str, Any]) -> None:
        self.path = path
        self.raw = raw
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


def _check_annotations(lint: _Linter, meta: dict[str, Any]) -> None:
    annotations = _section(meta, "annotations")
    where = "metadata.annotations"
    kind = annotations.get("type")
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
        lint.warn(f"{where}.name", "missing: CVAT lists the function under this name")
    text = annotations.get("spec")
    if text is None:
        if kind in ("detector", "reid"):
            lint.warn(f"{where}.spec", "missing: the function declares no labels")
        return
    _check_labels(lint, f"{where}.spec", str(text))


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
    names: dict[str, int] = {}
    ids: dict[Any, int] = {}
    for i, label in enumerate(labels):
        if not isinstance(label, dict):
            lint.error(field, f"[{i}]: a label must be an object, got {label!r}")
            continue
        name = label.get("name")
        if not isinstance(name, str) or not name.strip():
            lint.error(field, f"[{i}]: label without a name")
        elif name in names:
            lint.error(field, f"[{i}]: duplicate label name {name!r} (also [{names[name]}])")
        else:
            names[name] = i
        if "id" in label:
            if label["id"] in ids:
                lint.error(
                    field, f"[{i}]: duplicate label id {label['id']!r} (also [{ids[label['id']]}])"
                )
            else:
                ids[label["id"]] = i


def _module_file(directory: Path, module: str) -> Path | None:
    base = directory.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _top_level_names(source: str) -> set[str]:
    """Names a module binds at its top level: functions, classes, assignments, imports."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
    return names


def _check_handler(lint: _Linter, spec: dict[str, Any], directory: Path) -> None:
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
    path = _module_file(directory, module)
    if path is None:
        lint.error(
            "spec.handler",
            f"module {module!r} not found: no {module.replace('.', '/')}.py in {directory.name}/",
        )
        return
    try:
        source = path.read_text(encoding="utf-8")
        defined = function in _top_level_names(source)
    except SyntaxError as exc:
        lint.error("spec.handler", f"{path.name}:{exc.lineno}: syntax error: {exc.msg}")
        return
    if not defined:
        lint.error("spec.handler", f"{path.name} does not define {function!r}")


def _check_runtime(lint: _Linter, spec: dict[str, Any]) -> None:
    runtime = str(spec.get("runtime") or "")
    if not runtime:
        lint.warn("spec.runtime", "missing: state python:3.x so Nuclio builds the right image")
    elif runtime.split(":")[0] != "python":
        lint.error("spec.runtime", f"{runtime!r}: cvat-fn runs Python functions only (python:3.x)")
    timeout = spec.get("eventTimeout")
    if timeout is not None:
        try:
            parse_duration(str(timeout))
        except ValueError as exc:
            lint.error("spec.eventTimeout", str(exc))


def _check_trigger(lint: _Linter, raw: dict[str, Any]) -> None:
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
        workers = trigger.get("numWorkers", trigger.get("maxWorkers"))
        key = "numWorkers" if "numWorkers" in trigger else "maxWorkers"
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            lint.error(f"{field}.{key}", f"{workers!r}: needs a whole number of at least 1")
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


def lint_directory(directory: Path | str) -> list[LintFinding]:
    """Every finding for a function directory; never imports the function or its model."""
    directory = Path(directory)
    try:
        path = find_function_yaml(directory)
        raw = read_yaml(path)
    except SpecError as exc:
        return [LintFinding("error", "function.yaml", None, "file", str(exc))]
    lint = _Linter(path, path.read_text(encoding="utf-8"), raw)
    meta = _section(raw, "metadata")
    spec = _section(raw, "spec")
    if not meta.get("name"):
        lint.error("metadata.name", "missing: Nuclio needs the function's name")
    _check_annotations(lint, meta)
    _check_handler(lint, spec, directory)
    _check_runtime(lint, spec)
    _check_trigger(lint, raw)
    return lint.findings
