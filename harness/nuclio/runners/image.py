"""The image a function runs in, laid out as ``nuctl deploy --platform local`` lays it out.

FROM the base image; the preCopy directives (or ``build.commands``, which replace the
directives); the function directory copied to /opt/nuclio; the postCopy directives. Where
Nuclio adds its processor, the harness runtime goes to /opt/cvat-fn (in the same COPY as the
function) with pure-Python copies of nuclio_sdk and msgpack, used only where the image has
none of its own (as Nuclio's ``pip install --no-index`` leaves an installed one alone), so no
network is needed for it.

Each builder step costs seconds on some storage drivers (a full diff of the image), so the
Dockerfile has as few as it can: CMD, HEALTHCHECK and the managed label are inherited from
the local base image (scripts/build-base-image.sh sets the same) and written only for other
bases. The tag is a hash of everything that goes in: an unchanged function is not rebuilt.

For a run on this machine (``code_mounted``), the function's code does not decide the image:
the tag hashes the base, the directives, the runtime and its config, and only those function
files a directive names (``requirements.txt`` in ``pip install -r requirements.txt``). The
image still holds the function as it was when built, so postCopy directives see it as under
Nuclio; at start the runner mounts the directory read-only at CODE_MOUNT and start.py links
its files into /opt/nuclio in place of the ones baked in (files a directive wrote there stay).
An edit to main.py thus needs a new container, not a new image.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import harness.nuclio.runners.labels as labels
from harness.nuclio.files import FileWalk, walk_files
from harness.nuclio.runners.base import StartError
from harness.nuclio.spec import FunctionSpec

DEFAULT_BASE_IMAGE = "cvat-fn/python:3.11-bookworm"
FUNCTION_HOME = "/opt/nuclio"
RUNTIME_HOME = "/opt/cvat-fn"
HTTP_PORT = 8080
HEALTH_PORT = 8082
FORMAT = "cvat-fn-image-2"  # bump when the layout changes, so old images are not reused
CODE_MOUNT = f"{RUNTIME_HOME}/code"  # where the runner mounts the function directory
CODE_ENV = "CVAT_FN_CODE"  # set to CODE_MOUNT when it is mounted
MANIFEST = "baked.json"  # in RUNTIME_HOME: the function files baked in, and what to skip
MOUNTED_TAG_PREFIX = "dev-"  # the tag of an image whose code is mounted at run time

# Caches and tool droppings: copying them would change the hash on every local run.
IGNORED_DIRS = {
    "__pycache__", ".git", ".hg", ".svn", ".pytest_cache", ".mypy_cache", ".ruff_cache",
    ".hypothesis", ".tox", ".nox", ".venv", ".idea", ".vscode",
}  # fmt: skip
IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp")

PIP_CA_LABEL = f"{labels.PREFIX}.pip-ca"  # sha256 of the pip CA a base image carries
START_COMMAND = ["python3", f"{RUNTIME_HOME}/start.py"]
HEALTH_PROBE = (
    f"import urllib.request as u; u.urlopen('http://127.0.0.1:{HEALTH_PORT}/ready', timeout=2)"
)
HEALTHCHECK = {
    "Test": ["CMD", "python3", "-c", HEALTH_PROBE],
    "Interval": 2_000_000_000,
    "Timeout": 3_000_000_000,
    "Retries": 1,
}

# The container's command; runs under the function's own Python, which may be old.
_START_SCRIPT = f"""\
\"\"\"cvat-fn: the harness runtime, with bundled nuclio_sdk/msgpack where the image has none.\"\"\"
import importlib.util, os, sys
home = os.path.dirname(os.path.abspath(__file__))
paths = [home]
for name in ("nuclio_sdk", "msgpack"):
    if importlib.util.find_spec(name) is None:
        paths.append(os.path.join(home, "vendor", name))
code = os.environ.get("{CODE_ENV}")
if code and not (os.path.isdir(code) and os.listdir(code)):  # a remote engine's empty mount
    sys.stderr.write("cvat-fn: nothing is mounted at %s; serving the code baked in\\n" % code)
    code = None
if code:  # the function directory is mounted: its files replace the ones baked in
    import json
    with open(os.path.join(home, "{MANIFEST}")) as handle:
        manifest = json.load(handle)
    target = "{FUNCTION_HOME}"
    for rel in manifest["baked"]:
        path = os.path.join(target, rel)
        if os.path.islink(path) or os.path.isfile(path):
            os.unlink(path)
    skip_dirs, skip_suffixes = set(manifest["ignored_dirs"]), tuple(manifest["ignored_suffixes"])
    chains = {{code: {{os.path.realpath(code)}}}}  # a link back into its own path: not followed
    for root, dirs, files in os.walk(code, followlinks=True):
        chain = chains.pop(root, set())
        dirs[:] = [d for d in dirs if d not in skip_dirs
                   and os.path.realpath(os.path.join(root, d)) not in chain]
        for d in dirs:
            chains[os.path.join(root, d)] = chain | {{os.path.realpath(os.path.join(root, d))}}
        into = os.path.normpath(os.path.join(target, os.path.relpath(root, code)))
        os.makedirs(into, exist_ok=True)
        for name in files:
            if not name.endswith(skip_suffixes):
                link = os.path.join(into, name)
                if os.path.lexists(link):
                    os.unlink(link)
                os.symlink(os.path.join(root, name), link)
inherited = [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []
os.environ["PYTHONPATH"] = os.pathsep.join(paths + inherited)  # the workers' too
args = sys.argv[1:] or [
    "--config", os.path.join(home, "config.json"), "--host", "0.0.0.0",
    "--port", "{HTTP_PORT}", "--health-port", "{HEALTH_PORT}",
]
sys.path[:0] = paths
from harness.nuclio.runtime.processor import main  # in this process: no second interpreter start
main(args)
"""


class BuildError(StartError):
    """The image could not be built; says which directive failed and what it printed."""


@dataclass(frozen=True)
class Step:
    """One Dockerfile instruction and where it comes from, to name it when it fails."""

    instruction: str
    origin: str


@dataclass
class BuildContext:
    """Dockerfile text plus the files that go in, and the content hash that names them."""

    spec: FunctionSpec
    base: BaseImage
    steps: list[Step]
    files: dict[str, Path | bytes] = field(default_factory=dict)
    unhashed: set[str] = field(default_factory=set)  # files that go in but do not name it
    code_mounted: bool = False
    skipped: list[str] = field(default_factory=list)  # function files left out, and why

    @property
    def dockerfile(self) -> str:
        return "".join(f"{step.instruction}\n" for step in self.steps)

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        kind = "code mounted" if self.code_mounted else "code copied"
        for part in (FORMAT, kind, self.base.id, self.dockerfile):
            h.update(part.encode() + b"\0")
        for name in sorted(self.files):
            if name in self.unhashed:
                continue
            source = self.files[name]
            h.update(name.encode() + b"\0")
            if isinstance(source, bytes):
                h.update(hashlib.sha256(source).digest())
            else:
                h.update(b"x" if os.access(source, os.X_OK) else b"-")
                h.update(_file_sha256(source))
        return h.hexdigest()

    @property
    def tag(self) -> str:
        prefix = MOUNTED_TAG_PREFIX if self.code_mounted else ""
        return f"{self.repository}:{prefix}{self.digest[:16]}"

    @property
    def repository(self) -> str:
        return repository(self.spec)

    def write_tar(self, out: IO[bytes]) -> None:
        with tarfile.open(fileobj=out, mode="w") as tar:
            _add_bytes(tar, "Dockerfile", self.dockerfile.encode())
            for name in sorted(self.files):
                source = self.files[name]
                if isinstance(source, bytes):
                    _add_bytes(tar, name, source)
                else:
                    with source.open("rb") as handle:  # a link's target, not the link
                        info = tar.gettarinfo(arcname=name, fileobj=handle)
                        info.uid = info.gid = 0
                        info.uname = info.gname = "root"
                        tar.addfile(info, handle)


def repository(spec: FunctionSpec) -> str:
    """cvat-fn/<name>-<hash of the directory's path>: one repository per directory."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", spec.name.lower()).strip("._-")
    where = hashlib.sha256(str(spec.directory).encode()).hexdigest()[:8]
    return f"cvat-fn/{slug or 'function'}-{where}"


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


def _file_sha256(path: Path) -> bytes:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.digest()


def function_files(directory: Path) -> FileWalk:
    """(relative path, file) for everything nuctl would copy, minus caches; symlinks followed.
    A FIFO, a socket or a link that loops is left out and named in ``skipped`` (Docker's
    context would hold a link as a link; following one that loops would never end)."""
    return walk_files(directory, IGNORED_DIRS, IGNORED_SUFFIXES)


def runtime_files() -> Iterator[tuple[str, Path]]:
    """The runtime and its two dependencies, as pure-Python sources from this interpreter."""
    import msgpack
    import nuclio_sdk

    import harness
    import harness.nuclio.runtime

    root = Path(harness.__file__).resolve().parents[1]
    runtime = Path(harness.nuclio.runtime.__file__).resolve().parent
    for package in [runtime, *runtime.parents]:  # the runtime's parent packages' __init__.py
        if package == root:
            break
        if package != runtime:
            yield (package / "__init__.py").relative_to(root).as_posix(), package / "__init__.py"
    for rel, path in _py_files(runtime):
        yield f"{runtime.relative_to(root).as_posix()}/{rel}", path
    for module in (nuclio_sdk, msgpack):
        assert module.__file__ is not None
        package = Path(module.__file__).parent
        for rel, path in _py_files(package):
            if not rel.startswith("test"):  # nuclio_sdk ships its tests
                yield f"vendor/{module.__name__}/{module.__name__}/{rel}", path


def _py_files(package: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if "__pycache__" not in rel.parts:
            yield rel.as_posix(), path


def directive_steps(spec: FunctionSpec) -> tuple[list[Step], list[Step]]:
    """(preCopy, postCopy) steps as Nuclio's builder makes them.

    ``build.commands`` replace the directives: each becomes a RUN, a line ending in a
    backslash continues into the next, and ``@nuclio.postCopy`` switches to postCopy.
    """
    build = spec.build
    if not build.commands:
        pre = [
            Step(f"{d.kind} {d.value}", f"spec.build.directives.preCopy[{i}]")
            for i, d in enumerate(build.pre_copy)
        ]
        post = [
            Step(f"{d.kind} {d.value}", f"spec.build.directives.postCopy[{i}]")
            for i, d in enumerate(build.post_copy)
        ]
        return pre, post
    steps: dict[str, list[Step]] = {"pre": [], "post": []}
    phase = "pre"
    commands = list(build.commands)
    i = 0
    while i < len(commands):
        first = i
        command = commands[i]
        if command.strip() == "@nuclio.postCopy":
            phase = "post"
            i += 1
            continue
        joined = ""
        while command.endswith("\\") and i + 1 < len(commands):
            joined += command[:-1]
            i += 1
            command = commands[i]
        joined += command.rstrip("\\")
        where = f"spec.build.commands[{first}" + (f"-{i}]" if i > first else "]")
        if joined:
            steps[phase].append(Step(f"RUN {joined}", where))
        i += 1
    return steps["pre"], steps["post"]


@dataclass(frozen=True)
class BaseImage:
    """The image a function's image is built FROM, as found in the local engine."""

    name: str
    id: str
    config: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def is_ours(self) -> bool:
        """Whether CMD, HEALTHCHECK and the managed label already are what we would write."""
        config = self.config
        return (
            config.get("Cmd") == START_COMMAND
            and not config.get("Entrypoint")
            and config.get("Healthcheck") == HEALTHCHECK
            and (config.get("Labels") or {}).get(labels.MANAGED) == "true"
        )


def directive_text(spec: FunctionSpec) -> str:
    """Every build directive and command, as one text to look file names up in."""
    pre, post = directive_steps(spec)
    return "\n".join(step.instruction for step in pre + post)


def make_context(
    spec: FunctionSpec,
    base: BaseImage,
    pip_ca: Path | None = None,
    *,
    code_mounted: bool = False,
) -> BuildContext:
    """The Dockerfile and files of a function's image (see the module's docstring for
    ``code_mounted``)."""
    pre, post = directive_steps(spec)
    ours = "cvat-fn"
    steps = [Step(f"FROM {base.name}", "spec.build.baseImage")]
    files: dict[str, Path | bytes] = {}
    runs = any(s.instruction[:4].upper() == "RUN " for s in pre + post)
    ca = pip_ca.read_bytes() if pip_ca is not None and runs else None
    base_ca = (base.config.get("Labels") or {}).get(PIP_CA_LABEL)
    if ca is not None and base_ca != hashlib.sha256(ca).hexdigest():
        # As Nuclio's platform config does (runtime.python.pipCAPath): pip in a build
        # directive trusts the CA pip trusts on this host (a TLS-intercepting proxy).
        # The local base image has it already when it was built on this host.
        files["pip/etc/ssl/certs/cvat-fn-pip-ca.crt"] = ca
        files["pip/etc/pip.conf"] = b"[global]\ncert = /etc/ssl/certs/cvat-fn-pip-ca.crt\n"
        steps.append(Step("COPY pip/ /", f"{ours}: the CA bundle pip trusts on this host"))
    steps += pre
    where = f"{ours}: the function to {FUNCTION_HOME}, the runtime to {RUNTIME_HOME}"
    steps.append(Step("COPY root/ /", where))
    steps += post
    if not base.is_ours:
        health = json.dumps(["python3", "-c", HEALTH_PROBE])
        steps += [
            Step(f"HEALTHCHECK --interval=2s --timeout=3s --retries=1 CMD {health}", ours),
            Step("ENTRYPOINT []", ours),
            Step(f"CMD {json.dumps(START_COMMAND)}", ours),
            Step(f"LABEL {labels.MANAGED}=true", ours),
        ]
    home = RUNTIME_HOME.lstrip("/")
    unhashed: set[str] = set()
    named = directive_text(spec)
    baked = []
    walk = function_files(spec.directory)
    for rel, path in walk.files:
        name = f"root/{FUNCTION_HOME.lstrip('/')}/{rel}"
        files[name] = path
        baked.append(rel)
        if code_mounted and rel not in named:
            unhashed.add(name)
    if code_mounted:
        manifest = {
            "baked": baked,
            "ignored_dirs": sorted(IGNORED_DIRS),
            "ignored_suffixes": list(IGNORED_SUFFIXES),
        }
        files[f"root/{home}/{MANIFEST}"] = json.dumps(manifest).encode()
        unhashed.add(f"root/{home}/{MANIFEST}")
    for rel, path in runtime_files():
        files[f"root/{home}/{rel}"] = path
    files[f"root/{home}/start.py"] = _START_SCRIPT.encode()
    config = spec.runtime_config(function_dir=FUNCTION_HOME)
    files[f"root/{home}/config.json"] = json.dumps(config, indent=2, sort_keys=True).encode()
    return BuildContext(spec, base, steps, files, unhashed, code_mounted, walk.skipped)


def outside_links(directory: Path) -> list[str]:
    """Symlinks in the function directory that point outside it: a copy follows them, a
    mount would show them dangling."""
    root = directory.resolve()
    found = []
    for walk_root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if d not in IGNORED_DIRS]
        for name in dirs + files:
            path = Path(walk_root, name)
            real = Path(os.path.realpath(path))  # a loop stays inside: the copy leaves it out
            if path.is_symlink() and not real.is_relative_to(root):
                found.append(path.relative_to(directory).as_posix())
    return found


def stderr_progress(message: str) -> None:
    print(f"cvat-fn: {message}", file=sys.stderr, flush=True)


_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")  # the builder colours a RUN's stderr
_STEP_RE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_NOISE_RE = re.compile(r"^( ---> |Removing intermediate container |Successfully (built|tagged) )")


class _BuildLog:
    """Follows the builder's stream: reports steps, keeps each step's output for errors."""

    def __init__(self, context: BuildContext, progress: Callable[[str], None], verbose: bool):
        self.context = context
        self.progress = progress
        self.verbose = verbose
        self.step: tuple[int, int, str] | None = None
        self.output: list[str] = []
        self._partial = ""

    def feed(self, text: str) -> None:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._line(line.rstrip("\r"))

    def _line(self, line: str) -> None:
        line = _ANSI_RE.sub("", line)
        match = _STEP_RE.match(line)
        if match:
            self.step = (int(match.group(1)), int(match.group(2)), match.group(3))
            self.output = []
            self.progress(f"build {self.context.spec.name}: step {line[5:]}")
        elif line.strip() and not _NOISE_RE.match(line):
            self.output.append(line)
            if self.verbose:
                self.progress(f"  {line}")

    def error(self, message: str) -> BuildError:
        if self._partial:
            self._line(self._partial)
            self._partial = ""
        name = self.context.spec.name
        if self.step is None:
            return BuildError(f"{name}: the image build failed before any step ran: {message}")
        number, total, instruction = self.step
        origin = ""
        if total == len(self.context.steps):
            origin = f" ({self.context.steps[number - 1].origin})"
        output = "\n".join(f"    {line}" for line in self.output[-60:]) or "    (no output)"
        return BuildError(
            f"{name}: the image build failed at step {number}/{total}{origin}:\n"
            f"    {instruction}\n"
            f"  error: {message.strip()}\n"
            f"  output of that step:\n{output}"
        )


def build(
    client: Any,
    context: BuildContext,
    tag: str,
    *,
    progress: Callable[[str], None] = stderr_progress,
    verbose: bool = False,
) -> str:
    """Build ``context`` as ``tag`` with the classic builder; returns the image id."""
    started = time.monotonic()
    log = _BuildLog(context, progress, verbose)
    image_id = None
    with tempfile.TemporaryFile() as archive:
        context.write_tar(archive)
        archive.seek(0)
        stream = client.api.build(
            fileobj=archive,
            custom_context=True,
            tag=tag,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
        )
        for chunk in stream:
            if "stream" in chunk:
                log.feed(chunk["stream"])
            elif "error" in chunk:
                raise log.error(str(chunk.get("error")))
            elif isinstance(chunk.get("aux"), dict) and chunk["aux"].get("ID"):
                image_id = chunk["aux"]["ID"]
    log.feed("\n")
    if image_id is None:
        image_id = client.images.get(tag).id
    progress(f"build {context.spec.name}: {tag} built in {time.monotonic() - started:.1f}s")
    return str(image_id)


def prune_older(client: Any, context: BuildContext, keep_id: str) -> None:
    """Remove this directory's earlier images of the same kind (code copied in, or mounted);
    one still used by a container is kept."""
    import docker.errors

    for image in client.images.list(name=context.repository):
        mounted = any(
            tag.rpartition(":")[2].startswith(MOUNTED_TAG_PREFIX) for tag in image.tags or []
        )
        if mounted != context.code_mounted:
            continue
        if image.id != keep_id and (image.labels or {}).get(labels.MANAGED) == "true":
            # By tag, not id: identical code built from another directory shares the id,
            # and its own tag stays; the image goes with its last tag.
            for tag in image.tags or []:
                if tag.rpartition(":")[0] == context.repository:
                    with contextlib.suppress(docker.errors.APIError):  # in use
                        client.images.remove(tag, noprune=False)
