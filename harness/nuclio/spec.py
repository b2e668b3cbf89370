"""function.yaml -> FunctionSpec: the one place that knows Nuclio's and CVAT's field names."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.nuclio import files

DEFAULT_MAX_BODY = 4 * 1024 * 1024
DEFAULT_WORKER_AVAILABILITY_S = 10.0
DEFAULT_READINESS_S = 120.0
HANDLER_RE = re.compile(r"^([\w|-]+(\.[\w|-]+)*):(\w+)$")
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


class SpecError(ValueError):
    """function.yaml cannot be read at all (missing, not YAML, not a mapping)."""


def parse_duration(text: str) -> float:
    """Seconds in a Go duration such as ``30s`` or ``1m30s``; ValueError otherwise."""
    text = text.strip()
    if text in ("0", ""):
        return 0.0
    pos, total = 0, 0.0
    for m in _DURATION_RE.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"{text!r} is not a Go duration such as 30s, 1m30s or 500ms")
    return total


@dataclass(frozen=True)
class Label:
    """One label of the ``spec`` annotation; a skeleton's elements are its ``sublabels``."""

    id: int | None
    name: str
    type: str = "any"
    attributes: tuple[dict[str, Any], ...] = ()
    sublabels: tuple[Label, ...] = ()

    def attribute(self, name: str) -> dict[str, Any] | None:
        """The declared attribute called ``name``, if any."""
        return next((a for a in self.attributes if a.get("name") == name), None)


@dataclass(frozen=True)
class Directive:
    kind: str
    value: str


@dataclass(frozen=True)
class BuildSpec:
    base_image: str | None = None
    image: str | None = None
    commands: tuple[str, ...] = ()
    pre_copy: tuple[Directive, ...] = ()
    post_copy: tuple[Directive, ...] = ()


@dataclass(frozen=True)
class Volume:
    name: str
    host_path: str
    mount_path: str


@dataclass
class FunctionSpec:
    """What cvat-fn needs of function.yaml; ``raw`` keeps the rest for lint."""

    directory: Path
    raw: dict[str, Any]
    name: str = ""
    description: str = ""
    version: str = ""
    annotations: dict[str, str] = field(default_factory=dict)
    kind: str | None = None
    labels: list[Label] = field(default_factory=list)
    handler: str = "main:handler"
    runtime: str = "python:3.9"
    env: dict[str, str] = field(default_factory=dict)
    event_timeout: float | None = None
    num_workers: int = 1
    worker_availability_timeout: float = DEFAULT_WORKER_AVAILABILITY_S
    max_request_body_size: int = DEFAULT_MAX_BODY
    readiness_timeout: float = DEFAULT_READINESS_S
    build: BuildSpec = field(default_factory=BuildSpec)
    resources: dict[str, Any] = field(default_factory=dict)
    volumes: list[Volume] = field(default_factory=list)

    yaml_path: Path | None = None

    @property
    def path(self) -> Path:
        """The function.yaml read (any name: function-gpu.yaml too)."""
        return self.yaml_path or self.directory / "function.yaml"

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]

    def runtime_config(self, function_dir: str | None = None) -> dict[str, Any]:
        """The JSON the runtime reads: it cannot parse YAML (stdlib + nuclio_sdk only)."""
        return {
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "handler": self.handler,
            "function_dir": function_dir or str(self.directory),
            "env": self.env,
            "num_workers": self.num_workers,
            "event_timeout": self.event_timeout,
            "worker_availability_timeout": self.worker_availability_timeout,
            "max_request_body_size": self.max_request_body_size,
            # a restarted worker's deadline to report ready, as a start's
            "readiness_timeout": self.readiness_timeout,
        }


def function_directory(path: Path | str) -> Path:
    """The function's directory for a path that is the directory or one of its function.yaml
    files (CVAT ships function-gpu.yaml beside function.yaml)."""
    path = Path(path)
    return path.parent if path.is_file() else path


def find_function_yaml(directory: Path) -> Path:
    """``directory``'s function.yaml, or ``directory`` itself when it is a file (any name).
    A function.yaml that is there but no file (a FIFO, a symlink loop) is named as such."""
    try:
        if directory.is_dir():
            for name in ("function.yaml", "function.yml"):
                if files.is_present(directory / name):
                    return directory / name
        elif files.is_present(directory):
            return directory
    except files.FileError as exc:
        raise SpecError(str(exc)) from None
    if not directory.exists():
        raise SpecError(f"{directory}: no such directory")
    if not directory.is_dir():
        raise SpecError(f"{directory}: not a directory (give the function's directory)")
    raise SpecError(f"{directory}: no function.yaml here (is this a Nuclio function directory?)")


def read_yaml(path: Path) -> dict[str, Any]:
    """function.yaml's top-level mapping, read through :mod:`harness.nuclio.files` (no FIFO,
    no alias bomb, no 20 MB file)."""
    return read_yaml_text(path)[1]


def read_yaml_text(path: Path) -> tuple[str, dict[str, Any]]:
    """(text, top-level mapping) of a function.yaml; SpecError naming the file otherwise."""
    try:
        text, data = files.read_yaml(path)
    except files.FileError as exc:
        raise SpecError(str(exc)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise SpecError(f"{path.name}{where}: not valid YAML: {exc.problem}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SpecError(f"{path.name}: cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path.name}: the top level must be a mapping, got {type(data).__name__}")
    return text, data


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def http_trigger(raw: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The first trigger of kind http, as (name, body)."""
    for name, trigger in _mapping(_mapping(raw.get("spec")).get("triggers")).items():
        if isinstance(trigger, dict) and trigger.get("kind") == "http":
            return str(name), trigger
    return None


def parse_labels(text: str) -> list[Label]:
    """Labels from the ``spec`` annotation; raises ValueError (json's) on bad input."""
    return _labels(json.loads(text))


def _labels(data: Any) -> list[Label]:
    if not isinstance(data, list):
        raise ValueError(f"must be a JSON list of labels, got {type(data).__name__}")
    labels = []
    for item in data:
        if not isinstance(item, dict):
            raise ValueError(f"each label must be an object, got {item!r}")
        raw_id = item.get("id")
        labels.append(
            Label(
                id=raw_id if isinstance(raw_id, int) else None,
                name=str(item.get("name") or ""),
                type=str(item.get("type") or "any"),
                attributes=tuple(a for a in item.get("attributes") or () if isinstance(a, dict)),
                sublabels=tuple(_labels(item.get("sublabels") or [])),
            )
        )
    return labels


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _directives(items: Any) -> tuple[Directive, ...]:
    return tuple(
        Directive(str(d.get("kind", "")), str(d.get("value", "")))
        for d in items or ()
        if isinstance(d, dict)
    )


def _volumes(items: Any) -> list[Volume]:
    volumes = []
    for item in items or ():
        volume = _mapping(_mapping(item).get("volume"))
        mount = _mapping(_mapping(item).get("volumeMount"))
        host = _mapping(volume.get("hostPath")).get("path")
        if host and mount.get("mountPath"):
            volumes.append(Volume(str(volume.get("name", "")), str(host), str(mount["mountPath"])))
    return volumes


def load_spec(directory: Path | str) -> FunctionSpec:
    """Read a function directory's function.yaml; lenient, lint says what is wrong."""
    given = Path(os.path.realpath(directory))  # Path.resolve raises on a symlink loop
    path = find_function_yaml(given)
    directory = function_directory(given)
    raw = read_yaml(path)
    meta = _mapping(raw.get("metadata"))
    spec = _mapping(raw.get("spec"))
    annotations = {str(k): str(v) for k, v in _mapping(meta.get("annotations")).items()}
    fs = FunctionSpec(directory=directory, raw=raw, yaml_path=path)
    fs.name = str(meta.get("name") or directory.name)
    fs.description = str(spec.get("description") or "")
    fs.version = str(annotations.get("version") or spec.get("version") or "")
    fs.annotations = annotations
    fs.kind = annotations.get("type")
    try:
        fs.labels = parse_labels(annotations.get("spec", "[]"))
    except ValueError:
        fs.labels = []
    fs.handler = str(spec.get("handler") or "main:handler")
    fs.runtime = str(spec.get("runtime") or "python:3.9")
    fs.env = {
        str(e["name"]): "" if e.get("value") is None else str(e.get("value"))
        for e in spec.get("env") or ()
        if isinstance(e, dict) and e.get("name")
    }
    try:
        timeout = spec.get("eventTimeout")
        fs.event_timeout = parse_duration(str(timeout)) if timeout else None
    except ValueError:
        fs.event_timeout = None
    fs.event_timeout = fs.event_timeout or None
    trigger = http_trigger(raw)
    if trigger:
        body = trigger[1]
        attrs = _mapping(body.get("attributes"))
        fs.num_workers = _int(body.get("numWorkers", body.get("maxWorkers")), 1)
        ms = _int(body.get("workerAvailabilityTimeoutMilliseconds"), 0)
        fs.worker_availability_timeout = ms / 1000 if ms > 0 else DEFAULT_WORKER_AVAILABILITY_S
        fs.max_request_body_size = _int(attrs.get("maxRequestBodySize"), DEFAULT_MAX_BODY)
    readiness = _int(spec.get("readinessTimeoutSeconds"), 0)
    fs.readiness_timeout = float(readiness) if readiness > 0 else DEFAULT_READINESS_S
    build = _mapping(spec.get("build"))
    directives = _mapping(build.get("directives"))
    fs.build = BuildSpec(
        base_image=build.get("baseImage"),
        image=build.get("image"),
        commands=tuple(str(c) for c in build.get("commands") or ()),
        pre_copy=_directives(directives.get("preCopy")),
        post_copy=_directives(directives.get("postCopy")),
    )
    fs.resources = _mapping(spec.get("resources"))
    fs.volumes = _volumes(spec.get("volumes"))
    return fs
