"""CVAT's own virtual environment, built once per requirement set and cached outside the repository.

Built as the shared CVAT README describes: ``pip install -r cvat/requirements/production.txt``
without its ``datumaro @ https://...`` line (a GitHub archive, unreachable here), then
``datumaro==1.10.0 --no-deps`` and ``pyemd`` as a wheel, then the fork's one import-time
difference (``AnnotationType.skeleton = 17``), then ``gordon-to-regorus`` for the OPA endpoint
(opa.py). The venv lives in ``$XDG_CACHE_HOME/cvat-fn/cvat-server/<key>`` (``~/.cache`` without
XDG_CACHE_HOME), key from source.venv_key. It is built in a ``.build-*`` directory beside it and
renamed into place only when complete, under a file lock, so a killed build is never taken for a
cache and two sessions never build the same venv at once. Because it is renamed, the venv's
console scripts name the build directory: run everything as ``<venv>/bin/python -m ...``.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.cvat_server.source import SourceError, requirement_files, venv_key

DATUMARO = "datumaro==1.10.0"
REGORUS = "gordon-to-regorus==0.13.0"
# The datumaro fork CVAT pins adds one enum member that CVAT's code reads at import time.
SKELETON_AFTER = re.compile(r"^(?P<indent>\s+)cuboid_2d = 16\s*$", re.MULTILINE)


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cvat-fn" / "cvat-server"


def base_interpreter() -> str:
    """The interpreter running the tests, or the one its venv was made from: CVAT's venv must not
    sit on top of another venv (its packages would leak in, and that venv may go away)."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def ensure(root: Path, *, log=print) -> tuple[Path, bool]:
    """CVAT's venv for the source tree ``root``: ``(path, built)``, built now if not cached."""
    interpreter = base_interpreter()
    version = ".".join(map(str, sys.version_info[:3]))
    key = venv_key(root, interpreter, version)
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
            _build(root, interpreter, build, log)
            (build / "cvat-fn-venv.txt").write_text(
                f"key {key}\ninterpreter {interpreter} {version}\n"
                f"built in {time.monotonic() - started:.0f}s\n",
                encoding="utf-8",
            )
            os.rename(build, final)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
    return final, True


def python(venv: Path) -> str:
    return str(venv / "bin" / "python")


def _complete(venv: Path) -> bool:
    return (venv / "cvat-fn-venv.txt").is_file() and (venv / "bin" / "python").exists()


def _build(root: Path, interpreter: str, venv: Path, log) -> None:
    _run([interpreter, "-m", "venv", str(venv)], venv, "python -m venv")
    py = python(venv)
    reqs = venv / "cvat-requirements"
    for name, content in requirement_files(root).items():
        target = reqs / name
        target.parent.mkdir(parents=True, exist_ok=True)
        lines = content.decode().splitlines(keepends=True)
        target.write_text("".join(x for x in lines if not x.startswith("datumaro @")))
    pip = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    production = reqs / "cvat" / "requirements" / "production.txt"
    _run([*pip, "-r", str(production)], venv, "pip install -r production.txt")
    _run([*pip, "--no-deps", DATUMARO], venv, f"pip install {DATUMARO}")
    _run([*pip, "--no-deps", "--only-binary", ":all:", "pyemd"], venv, "pip install pyemd")
    _run([*pip, REGORUS], venv, f"pip install {REGORUS}")
    _add_skeleton(venv)
    _run([py, "-c", "import django, datumaro, regorus, uvicorn, rq"], venv, "import check")


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
    log_path = venv / "cvat-fn-build.log"
    with open(log_path, "ab") as out:
        code = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT)
    if code:
        tail = log_path.read_text(errors="replace").splitlines()[-30:]
        raise SourceError(f"building CVAT's venv: {what} failed (exit {code}):\n" + "\n".join(tail))
