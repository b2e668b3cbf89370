"""Where CVAT's server source comes from: ``CVAT_SOURCE``, a source tree or a ``.tar.gz`` of one.

A tree is the root of a CVAT checkout (``manage.py`` and ``cvat/`` in it); an archive holds such a
tree, at its top or in one top-level directory (``git archive --prefix``, GitHub's tarballs).
Archives are unpacked into the session's scratch directory; a tree is used where it is, read
only (CVAT writes into ``CVAT_BASE_DIR``, which the server sets to scratch).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path

ENV = "CVAT_SOURCE"
RECIPE = "1"  # bump when venv.py installs something else, so older caches are not reused


class SourceError(Exception):
    """CVAT_SOURCE names nothing usable; the message says what and where, in one line."""


def configured() -> str | None:
    """The value of CVAT_SOURCE, or None when unset or empty."""
    return os.environ.get(ENV) or None


def unpack(source: str | Path, scratch: Path) -> Path:
    """The root of CVAT's tree: ``source`` itself, or an archive unpacked under ``scratch``."""
    path = Path(source).expanduser().resolve()
    if path.is_dir():
        root = path
    elif path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
        target = scratch / "source"
        target.mkdir()
        try:
            with tarfile.open(path, "r:gz") as archive:
                archive.extractall(target, filter="data")
        except (OSError, tarfile.TarError) as exc:
            raise SourceError(f"{ENV}={source}: cannot unpack: {exc}") from None
        entries = [p for p in target.iterdir() if not p.name.startswith(".")]
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else target
    else:
        raise SourceError(f"{ENV}={source}: neither a directory nor a .tar.gz file")
    if not (root / "manage.py").is_file() or not (root / "cvat" / "requirements").is_dir():
        raise SourceError(f"{ENV}={source}: no manage.py and cvat/requirements/: not CVAT's source")
    return root


def requirement_files(root: Path) -> dict[str, bytes]:
    """The files CVAT's production requirements are made of, by path relative to ``root``:
    ``cvat/requirements/*.txt`` and the files they include with ``-r``."""
    found: dict[str, bytes] = {}
    pending = [root / "cvat" / "requirements" / "production.txt"]
    while pending:
        path = pending.pop().resolve()
        relative = path.relative_to(root.resolve()).as_posix()
        if relative in found:
            continue
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise SourceError(f"{ENV}: cannot read {relative}: {exc.strerror}") from None
        found[relative] = text
        for line in text.decode().splitlines():
            if line.startswith("-r "):
                pending.append(path.parent / line[3:].strip())
    return found


def venv_key(root: Path, interpreter: str, version: str) -> str:
    """The cache key of CVAT's venv: a hash of what the venv is built from (the requirement
    files, the interpreter and its version, this recipe), so another CVAT release with other
    pins gets its own venv and one with the same pins shares it."""
    digest = hashlib.sha256(f"{RECIPE}\0{interpreter}\0{version}\0".encode())
    for name, content in sorted(requirement_files(root).items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()[:16]


def migrations_key(root: Path) -> str:
    """A hash of CVAT's migrations (``cvat/**/migrations/*.py``): a database migrated by one
    source serves another with the same migrations (and the same venv, so Django's own)."""
    digest = hashlib.sha256(RECIPE.encode())
    for path in sorted(root.glob("cvat/**/migrations/*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]
