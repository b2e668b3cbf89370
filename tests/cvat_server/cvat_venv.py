"""CVAT's own virtual environment, built once per requirement set and cached outside the repository.

Built as the shared CVAT README describes: ``pip install -r cvat/requirements/production.txt``
without its ``datumaro @ https://...`` line (a GitHub archive, unreachable here), then the
datumaro fork CVAT pins, ``--no-deps``, from its source beside CVAT's (source.datumaro_fork) where
it is there; where it is not, ``datumaro==1.10.0 --no-deps`` and ``pyemd`` as a wheel stand in,
with the fork's one import-time difference (``AnnotationType.skeleton = 17``); then
``gordon-to-regorus`` for the OPA endpoint (opa.py). What differs between releases is read from
the source (:func:`recipe`): the Python (the newest its pinned numpy has wheels for: the tests'
own, or an older one on PATH or in pyenv), a pin with no wheel here replaced (:data:`REPLACED`).

The venv lives in ``$XDG_CACHE_HOME/cvat-fn/cvat-server/<key>`` (``~/.cache`` without
XDG_CACHE_HOME), key from source.venv_key. It is built in a ``.build-*`` directory beside it and
renamed into place only when complete, under a file lock, so a killed build is never taken for a
cache and two sessions never build the same venv at once. Because it is renamed, the venv's
console scripts name the build directory: run everything as ``<venv>/bin/python -m ...``.
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.cvat_server.source import (
    SourceError,
    datumaro_commit,
    datumaro_fork,
    release,
    requirement_files,
    unpack_datumaro,
    venv_key,
)

DATUMARO = "datumaro==1.10.0"
REGORUS = "gordon-to-regorus==0.13.0"
# The datumaro fork CVAT pins adds one enum member that CVAT's code reads at import time.
SKELETON_AFTER = re.compile(r"^(?P<indent>\s+)cuboid_2d = 16\s*$", re.MULTILINE)
NUMPY_PIN = re.compile(r"^numpy==(\d+)\.(\d+)\.(\d+)", re.MULTILINE)
NUMPY_PYTHON = (((1, 23, 2), (3, 10)), ((1, 26, 0), (3, 11)))
"""(first numpy release with wheels for a newer CPython, the newest CPython before it): numpy
1.23.2 was the first with wheels for 3.11, 1.26.0 the first for 3.12. A pin older than that
would be built from source (and numpy 1.22 does not build on 3.11)."""
PROBE = """
import os, sys
print(os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable))
print(*sys.version_info[:3], sep=".")
"""
REPLACED = {"av==9.2.0": "av==12.0.0"}
"""Pins with no wheel on PyPI for the Python CVAT runs on here (av 9.2.0: CVAT 2.22's
utils/dataset_manifest/requirements.txt; building it needs the FFmpeg 4 headers of its time),
and the oldest release that has one. CVAT uses av to read videos only: the tests send images."""


@dataclass(frozen=True)
class Recipe:
    """What CVAT's venv for one source is built from, read from that source."""

    release: str
    interpreter: str  # the base interpreter (realpath), never a venv's
    version: str  # its X.Y.Z
    fork: Path | None  # the pinned datumaro fork's source; None: datumaro 1.10.0 stands in
    fork_commit: str | None
    replaced: tuple[tuple[str, str], ...]

    @property
    def extra(self) -> str:
        """What this recipe does beyond the plain one, for the cache key ("" when nothing)."""
        parts = [f"datumaro fork {self.fork_commit}"] if self.fork else []
        parts += [f"{old} -> {new}" for old, new in self.replaced]
        return "\n".join(parts)

    @property
    def datumaro(self) -> str:
        if self.fork:
            return f"cvat-ai/datumaro fork {(self.fork_commit or '')[:8]}"
        return f"{DATUMARO.split('==')[1]} (standing in for CVAT's fork)"


def recipe(root: Path, source: str | Path) -> Recipe:
    """The recipe for CVAT's tree ``root`` (``source``: where it came from, to find the fork)."""
    interpreter, version = _interpreter(root)
    commit = datumaro_commit(root)
    fork = datumaro_fork(source, commit) if commit else None
    texts = b"\n".join(requirement_files(root).values()).decode()
    replaced = tuple(
        (old, new)
        for old, new in REPLACED.items()
        if re.search(rf"^{re.escape(old)}\s*$", texts, re.MULTILINE)
    )
    return Recipe(release(root), interpreter, version, fork, commit if fork else None, replaced)


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cvat-fn" / "cvat-server"


def base_interpreter() -> str:
    """The interpreter running the tests, or the one its venv was made from: CVAT's venv must not
    sit on top of another venv (its packages would leak in, and that venv may go away)."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def _interpreter(root: Path) -> tuple[str, str]:
    """The base interpreter CVAT's venv is made from, and its X.Y.Z: the tests' own, unless
    CVAT's numpy pin has no wheel for it (NUMPY_PYTHON); then the newest Python that it has
    wheels for, found as ``python3.N`` in pyenv (``$PYENV_ROOT``, ``~/.pyenv``) or on PATH."""
    own = (base_interpreter(), ".".join(map(str, sys.version_info[:3])))
    pins = [NUMPY_PIN.search(text.decode()) for text in requirement_files(root).values()]
    pin = next((tuple(map(int, m.groups())) for m in pins if m), None)
    newest = next((python for first, python in NUMPY_PYTHON if pin and pin < first), None)
    if newest is None or sys.version_info[:2] <= newest:
        return own
    minor = "{}.{}".format(*newest)
    pyenv = os.environ.get("PYENV_ROOT") or os.path.join(os.path.expanduser("~"), ".pyenv")
    candidates = sorted(
        glob.glob(os.path.join(pyenv, "versions", f"{minor}.*", "bin", f"python{minor}")),
        key=lambda path: [int(x) for x in re.findall(r"\d+", Path(path).parents[1].name)],
        reverse=True,
    )
    candidates += [found for found in [shutil.which(f"python{minor}")] if found]
    for candidate in candidates:
        probe = subprocess.run([candidate, "-c", PROBE], capture_output=True, text=True, timeout=60)
        lines = probe.stdout.split()
        if probe.returncode == 0 and len(lines) == 2 and lines[1].startswith(f"{minor}."):
            return lines[0], lines[1]
    shown = ".".join(map(str, pin or ()))
    raise SourceError(
        f"CVAT {release(root)} pins numpy=={shown}, which has wheels for Python {minor} at most,"
        f" and no Python {minor} was found (python{minor} on PATH, or in pyenv under {pyenv}):"
        f" install one (e.g. pyenv install {minor})"
    )


def ensure(root: Path, source: str | Path | None = None, *, log=print) -> tuple[Path, bool]:
    """CVAT's venv for the source tree ``root`` (``source``: where it came from, where the
    datumaro fork may lie beside it): ``(path, built)``, built now if not cached."""
    plan = recipe(root, source if source is not None else root)
    interpreter, version = plan.interpreter, plan.version
    key = venv_key(root, interpreter, version, plan.extra)
    cache = cache_root()
    final = cache / key
    if _complete(final):
        return final, False
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session building it: wait, then reuse
        if _complete(final):
            return final, False
        for stale in cache.glob(f".build-{key}-*"):  # a killed build (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)
        build = Path(tempfile.mkdtemp(prefix=f".build-{key}-", dir=cache))
        try:
            started = time.monotonic()
            log(f"cvat-server: building CVAT's venv in {final} (once per requirement set)")
            _build(root, plan, build)
            (build / "cvat-fn-venv.txt").write_text(
                f"key {key}\ninterpreter {interpreter} {version}\n"
                f"built in {time.monotonic() - started:.0f}s\n",
                encoding="utf-8",
            )
            (build / "cvat-fn-recipe.json").write_text(
                json.dumps({"release": plan.release, "python": version,
                            "datumaro": plan.datumaro, "replaced": dict(plan.replaced)}),
                encoding="utf-8",
            )  # fmt: skip
            os.rename(build, final)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
    return final, True


def python(venv: Path) -> str:
    return str(venv / "bin" / "python")


def datumaro(venv: Path) -> str:
    """Which datumaro CVAT's venv holds: the fork CVAT pins, or the stand-in (a venv built
    before the recipe was written down holds the stand-in)."""
    try:
        return str(json.loads((venv / "cvat-fn-recipe.json").read_text())["datumaro"])
    except (OSError, ValueError, KeyError):
        return f"{DATUMARO.split('==')[1]} (standing in for CVAT's fork)"


def _complete(venv: Path) -> bool:
    return (venv / "cvat-fn-venv.txt").is_file() and (venv / "bin" / "python").exists()


def _build(root: Path, plan: Recipe, venv: Path) -> None:
    _run([plan.interpreter, "-m", "venv", str(venv)], venv, "python -m venv")
    py = python(venv)
    reqs = venv / "cvat-requirements"
    replaced = dict(plan.replaced)
    for name, content in requirement_files(root).items():
        target = reqs / name
        target.parent.mkdir(parents=True, exist_ok=True)
        lines = content.decode().splitlines(keepends=True)
        kept = [x for x in lines if not x.startswith("datumaro @")]
        target.write_text("".join(_replace(x, replaced) for x in kept))
    pip = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    production = reqs / "cvat" / "requirements" / "production.txt"
    _run([*pip, "-r", str(production)], venv, "pip install -r production.txt")
    if plan.fork is not None:
        with tempfile.TemporaryDirectory(dir=venv) as scratch:
            tree = unpack_datumaro(plan.fork, Path(scratch))
            _run([*pip, "--no-deps", str(tree)], venv, f"pip install {plan.fork.name}")
    else:
        _run([*pip, "--no-deps", DATUMARO], venv, f"pip install {DATUMARO}")
        _run([*pip, "--no-deps", "--only-binary", ":all:", "pyemd"], venv, "pip install pyemd")
        _add_skeleton(venv)
    _run([*pip, REGORUS], venv, f"pip install {REGORUS}")
    _run([py, "-c", "import django, datumaro, regorus, uvicorn, rq"], venv, "import check")


def _replace(line: str, replaced: dict[str, str]) -> str:
    stripped = line.strip()
    return line.replace(stripped, replaced[stripped]) if stripped in replaced else line


def _add_skeleton(venv: Path) -> None:
    found = list(venv.glob("lib/python*/site-packages/datumaro/components/annotation.py"))
    if len(found) != 1:
        raise SourceError("datumaro/components/annotation.py not found in CVAT's venv")
    text = found[0].read_text(encoding="utf-8")
    if re.search(r"^\s+skeleton = 17\s*$", text, re.MULTILINE):
        return
    patched, count = SKELETON_AFTER.subn(r"\g<0>\n\g<indent>skeleton = 17", text, count=1)
    if count != 1:
        raise SourceError(f"{found[0]}: no 'cuboid_2d = 16' to add 'skeleton = 17' after")
    found[0].write_text(patched, encoding="utf-8")


def _run(command: list[str], venv: Path, what: str) -> None:
    """Run a build step in the venv's directory, with none of the tests' Python settings: run
    from the project's root, ``python -m pip`` would see the project's own metadata there."""
    log_path = venv / "cvat-fn-build.log"
    leaks = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
    env = {k: v for k, v in os.environ.items() if k not in leaks}
    with open(log_path, "ab") as out:
        code = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT, cwd=venv, env=env)
    if code:
        tail = log_path.read_text(errors="replace").splitlines()[-30:]
        raise SourceError(f"building CVAT's venv: {what} failed (exit {code}):\n" + "\n".join(tail))
