"""A cvat-sdk function as a Nuclio function directory: function.yaml (kind, labels from the
SDK spec, cvat-sdk as a build dependency) and main.py (:mod:`harness.sdk.nuclio_main`).

The same writer serves ``cvat-fn export-nuclio`` (a directory to deploy to community CVAT,
with the module and the other files of its directory copied in) and ``pytest --function
func.py`` (a scratch directory pointing at the module where it lies, with cvat-fn's probe
requests turned on).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import harness.sdk.nuclio_main as nuclio_main
from harness.nuclio import files
from harness.suite.config import CONFIG_NAME

DESCRIBE_TIMEOUT_S = 120.0
# cvat-sdk 2.80 requires Python >= 3.11 (its Requires-Python), so not CVAT's usual ubuntu:22.04
# (3.10): Debian 12's python3 is 3.11, the newest Nuclio runtime (builder.go supports 3.9-3.11).
RUNTIME_PYTHON = "3.11"
BASE_IMAGE = "debian:bookworm-slim"
# What an export writes itself: files of these names beside the module are not copied.
WRITTEN = ("function.yaml", "main.py", CONFIG_NAME)


class SdkError(ValueError):
    """The cvat-sdk function cannot be loaded or exported; the message says why."""


def sdk_version() -> str:
    from importlib.metadata import version

    return version("cvat-sdk")


@dataclass
class FunctionRef:
    """``path/to/func.py`` or ``module[:create]``, with cvat-cli's ``-p`` parameters."""

    text: str
    params: dict[str, Any] = field(default_factory=dict)
    cwd: Path = field(default_factory=Path.cwd)

    @property
    def path(self) -> Path | None:
        """The module's file: the .py given, or where the module would be imported from."""
        if self.text.endswith(".py"):
            return (self.cwd / self.text).resolve()
        module = self.text.partition(":")[0]
        sys.path.insert(0, str(self.cwd))
        try:
            found = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            found = None
        finally:
            sys.path.remove(str(self.cwd))
        return Path(found.origin).resolve() if found and found.origin else None

    @property
    def name(self) -> str:
        """For node ids and function names: the file's or module's name."""
        if self.text.endswith(".py"):
            return Path(self.text).stem
        return self.text.partition(":")[0]

    @property
    def directory(self) -> Path:
        """Where cvat-fn.yaml is looked for: beside the module."""
        path = self.path
        return path.parent if path else self.cwd


def parse_params(values: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for value in values:
        try:
            name, parsed = nuclio_main.parse_parameter(value)
        except ValueError as exc:
            raise SdkError(str(exc)) from None
        params[name] = parsed
    return params


def describe(ref: FunctionRef) -> dict[str, Any]:
    """Load the function in a child process (crash-isolated) and return its description;
    SdkError with the SDK's own message when loading fails."""
    if ref.text.endswith(".py") and not (ref.path and ref.path.is_file()):
        raise SdkError(f"{ref.text}: no such file")
    from harness.nuclio.runners.pythonpath import harness_pythonpath

    env = dict(os.environ, PYTHONPATH=harness_pythonpath(os.environ))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "harness.sdk.describe", ref.text, json.dumps(ref.params)],
            cwd=ref.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=DESCRIBE_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise SdkError(f"{ref.text}: loading took longer than {DESCRIBE_TIMEOUT_S:g} s") from None
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-20:]
        how = f"exit code {proc.returncode}"
        if proc.returncode < 0:
            how = f"killed by {signal.Signals(-proc.returncode).name}"
        raise SdkError(f"{ref.text}: loading crashed the process ({how})\n" + "\n".join(tail))
    result: dict[str, Any] = json.loads(lines[-1])
    if "error" in result:
        raise SdkError(f"{ref.text}: {result['error']}\n{result.get('traceback', '')}".rstrip())
    return result


def _requirements(directory: Path) -> list[str]:
    path = directory / "requirements.txt"
    if not path.is_file():
        return []
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def function_yaml(
    ref: FunctionRef,
    info: dict[str, Any],
    env: dict[str, str],
    requirements: list[str],
) -> dict[str, Any]:
    kind = info["kind"]
    name = re.sub(r"[^a-z0-9-]+", "-", ref.name.lower()).strip("-") or "function"
    annotations: dict[str, Any] = {
        "name": ref.name,
        "type": kind,
        "framework": "cvat-sdk",
        "spec": json.dumps(info.get("labels", []), indent=2),
    }
    if kind == "tracker":
        annotations["supported_shape_types"] = ",".join(info["supported_shape_types"])
    if kind == "interactor":
        # as cvat-cli's agent publishes them (agent_driver_interaction.py
        # get_remote_function_fields); CVAT reads the box flags with bool(): absent is false
        rules = info["interaction"]
        annotations["min_pos_points"] = str(rules["min_pos_points"])
        neg = rules["min_neg_points"]
        annotations["min_neg_points"] = "-1" if neg is None else str(neg)
        if rules["min_bounding_boxes"] == 1:
            annotations["startswith_box"] = "true"
        elif rules["min_bounding_boxes"] == 0:
            annotations["startswith_box_optional"] = "true"
    pip = " ".join(f'"{r}"' for r in [f"cvat-sdk=={sdk_version()}", "pillow", *requirements])
    return {
        "metadata": {"name": f"cvat-sdk-{name}", "namespace": "cvat", "annotations": annotations},
        "spec": {
            "description": f"cvat-sdk {kind} function {ref.name}, exported by cvat-fn",
            "runtime": f"python:{RUNTIME_PYTHON}",
            "handler": "main:handler",
            "eventTimeout": "30s",
            "env": [{"name": k, "value": v} for k, v in env.items()],
            "build": {
                "image": f"cvat.sdk.{name}",
                "baseImage": BASE_IMAGE,
                "directives": {
                    "preCopy": [
                        {"kind": "ENV", "value": "DEBIAN_FRONTEND=noninteractive"},
                        {"kind": "ENV", "value": "PIP_BREAK_SYSTEM_PACKAGES=1"},
                        {
                            "kind": "RUN",
                            "value": "apt-get update && apt-get install -y"
                            " --no-install-recommends python3 python3-pip python-is-python3"
                            " && rm -rf /var/lib/apt/lists/*",
                        },
                        {"kind": "RUN", "value": f"pip3 install --no-cache-dir {pip}"},
                        {"kind": "WORKDIR", "value": "/opt/nuclio"},
                    ]
                },
            },
            "triggers": {
                "myHttpTrigger": {
                    "numWorkers": 2,
                    "kind": "http",
                    "workerAvailabilityTimeoutMilliseconds": 10000,
                    "attributes": {"maxRequestBodySize": 33554432},
                }
            },
            "platform": {
                "attributes": {
                    "restartPolicy": {"name": "always", "maximumRetryCount": 3},
                    "mountMode": "volume",
                }
            },
        },
    }


def _write_yaml(path: Path, data: dict[str, Any]) -> None:
    class Literal(str):
        pass

    def literal(dumper: yaml.SafeDumper, value: Literal) -> yaml.ScalarNode:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(Literal, literal)
    annotations = data["metadata"]["annotations"]
    annotations["spec"] = Literal(annotations["spec"])
    path.write_text(yaml.dump(data, Dumper=Dumper, sort_keys=False), encoding="utf-8")


def _rebase_config(source: Path, target_dir: Path) -> None:
    """cvat-fn.yaml with its image paths made relative to the new directory."""
    try:
        raw = files.read_yaml(source)[1] or {}
    except files.FileError as exc:
        raise SdkError(str(exc)) from None
    except yaml.YAMLError as exc:
        raise SdkError(f"{source.name}: not valid YAML: {str(exc).splitlines()[0]}") from None
    for fixture in raw.get("fixtures") or []:
        if not isinstance(fixture, dict):
            continue
        for key in ("image", "next_image", "image1"):
            if isinstance(fixture.get(key), str):
                absolute = (source.parent / fixture[key]).resolve()
                fixture[key] = os.path.relpath(absolute, target_dir.resolve())
    text = f"# {CONFIG_NAME} of {source.parent.name}/, paths rebased for this directory.\n"
    (target_dir / CONFIG_NAME).write_text(text + yaml.safe_dump(raw, sort_keys=False))


def _skipped(path: Path, outdir: Path) -> bool:
    """Hidden files (.git too), caches, and the output directory when it lies inside."""
    return (
        path.name.startswith(".")
        or path.name == "__pycache__"
        or os.path.realpath(path) == str(outdir)
    )


def _copy_beside(module: Path, outdir: Path) -> list[str]:
    """The other files of the module's directory, links followed, as ``nuctl deploy --path``
    takes a whole directory: a module may load its model from files beside it. Returns what
    was left out (a FIFO, a link that loops), one line each."""
    outdir = outdir.resolve()
    if module.parent.resolve() == outdir:
        return []
    walk = files.walk_files(module.parent, skip=lambda path: _skipped(path, outdir))
    for rel, source in walk.files:
        if rel in (module.name, *WRITTEN):
            continue
        target = outdir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return walk.skipped


def write_function_dir(
    ref: FunctionRef,
    outdir: Path,
    info: dict[str, Any] | None = None,
    *,
    harness: bool,
    in_place: bool | None = None,
    say: Callable[[str], None] | None = None,
) -> Path:
    """Write the Nuclio function directory; returns it. ``harness`` answers cvat-fn's
    probes; ``in_place`` (default: as ``harness``) points at the module where it lies instead
    of copying it, and the other files of its directory, in to deploy. ``say`` hears what of
    that directory was left out (a FIFO, a symlink loop)."""
    in_place = harness if in_place is None else in_place
    info = info or describe(ref)
    outdir.mkdir(parents=True, exist_ok=True)
    source = ref.path
    env = {
        nuclio_main.ENV_PARAMS: json.dumps(ref.params),
        nuclio_main.ENV_STATE_KEY: secrets.token_hex(16),
    }
    requirements: list[str] = []
    if harness:
        env[nuclio_main.ENV_HARNESS] = "1"
    if in_place:
        env[nuclio_main.ENV_FUNCTION] = str(source) if ref.text.endswith(".py") else ref.text
        env[nuclio_main.ENV_SYS_PATH] = str(ref.cwd)
    else:
        if source is None or source.name == "__init__.py" or source.suffix != ".py":
            raise SdkError(f"{ref.text}: only a single-file module can be exported")
        if source.resolve() != (outdir / source.name).resolve():
            shutil.copy2(source, outdir / source.name)
        for line in _copy_beside(source, outdir):
            if say is not None:
                say(line)
        env[nuclio_main.ENV_FUNCTION] = source.name
        requirements = _requirements(source.parent)
        config = source.parent / CONFIG_NAME
        try:
            present = files.is_present(config)
        except files.FileError as exc:
            raise SdkError(str(exc)) from None
        if present:
            _rebase_config(config, outdir)
    shutil.copy2(nuclio_main.__file__, outdir / "main.py")
    _write_yaml(outdir / "function.yaml", function_yaml(ref, info, env, requirements))
    return outdir


def scratch_function(text: str, params: list[str]) -> tuple[Path, Any]:
    """A scratch Nuclio directory running the module in place, answering as an exported
    function would (for cvat-fn invoke and serve); returns it and its ScratchDir to remove."""
    from harness.nuclio.runners.scratch import ScratchDir

    ref = FunctionRef(text, parse_params(params))
    info = describe(ref)
    scratch = ScratchDir("cvat-fn-sdk-")
    try:
        directory = write_function_dir(
            ref, scratch.path / ref.name, info, harness=False, in_place=True
        )
    except BaseException:
        scratch.remove()
        raise
    return directory, scratch
