"""Where CVAT's server source comes from: ``CVAT_SOURCE``, a source tree or a ``.tar.gz`` of one,
and ``CVAT_OTHER_SOURCES``, more releases (sources separated by ``:``) that the verdict corpus
(test_verdicts.py) is measured on as well.

A tree is the root of a CVAT checkout (``manage.py`` and ``cvat/`` in it); an archive holds such a
tree, at its top or in one top-level directory (``git archive --prefix``, GitHub's tarballs).
Archives are unpacked into the session's scratch directory; a tree is used where it is, read
only (CVAT writes into ``CVAT_BASE_DIR``, which the server sets to scratch), except for a
release that does not read ``CVAT_BASE_DIR`` (2.22.0 keeps its data in ``<source>/data``, see
layout.py): that tree is copied into scratch first.

CVAT pins a datumaro fork as a GitHub archive (``datumaro @ ...`` in its requirements), which
cannot be downloaded here: :func:`datumaro_fork` finds the fork's source beside CVAT's, named
for the commit pinned (``datumaro-cvat-fork-e612d1bf.tar.gz``), and cvat_venv.py installs it
where it is found.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
from pathlib import Path

ENV = "CVAT_SOURCE"
OTHERS_ENV = "CVAT_OTHER_SOURCES"
DATUMARO_PIN = re.compile(r"^datumaro @ \S*?([0-9a-f]{40})\S*", re.MULTILINE)
RECIPE = "1"  # bump when cvat_venv.py installs something else, so older caches are not reused


class SourceError(Exception):
    """CVAT_SOURCE names nothing usable; the message says what and where, in one line."""


def configured() -> str | None:
    """The value of CVAT_SOURCE, or None when unset or empty."""
    return os.environ.get(ENV) or None


def others() -> list[str]:
    """The sources in CVAT_OTHER_SOURCES (``:``-separated), in order; empty when unset."""
    return [part for part in os.environ.get(OTHERS_ENV, "").split(os.pathsep) if part]


def unpack(source: str | Path, scratch: Path, *, env: str = ENV) -> Path:
    """The root of CVAT's tree: ``source`` itself, or an archive unpacked under ``scratch``.
    ``env`` names where ``source`` came from, in errors."""
    path = Path(source).expanduser().resolve()
    if path.is_dir():
        root = path
    elif path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
        root = _extract(path, scratch / "source", f"{env}={source}")
    else:
        raise SourceError(f"{env}={source}: neither a directory nor a .tar.gz file")
    if not (root / "manage.py").is_file() or not (root / "cvat" / "requirements").is_dir():
        raise SourceError(f"{env}={source}: no manage.py and cvat/requirements/: not CVAT's source")
    return root


def _extract(archive_path: Path, target: Path, what: str) -> Path:
    """Unpack a .tar.gz into ``target``; its one top-level directory, or ``target``."""
    target.mkdir()
    try:
        with tarfile.open(archive_path, "r:gz") as archive:
            archive.extractall(target, filter="data")
    except (OSError, tarfile.TarError) as exc:
        raise SourceError(f"{what}: cannot unpack: {exc}") from None
    entries = [p for p in target.iterdir() if not p.name.startswith(".")]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else target


def release(root: Path) -> str:
    """The release of CVAT's tree, from ``cvat/__init__.py`` (``VERSION = (2, 22, 0, ...)``)."""
    try:
        text = (root / "cvat" / "__init__.py").read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"{root}: cannot read cvat/__init__.py: {exc.strerror}") from None
    found = re.search(r"VERSION = \((\d+), (\d+), (\d+)", text)
    if not found:
        raise SourceError(f"{root}/cvat/__init__.py: no VERSION = (major, minor, patch, ...)")
    return ".".join(found.groups())


def datumaro_commit(root: Path) -> str | None:
    """The commit of the datumaro fork CVAT's requirements pin (``datumaro @ <url with the
    commit>``), or None when they pin none."""
    for content in requirement_files(root).values():
        found = DATUMARO_PIN.search(content.decode())
        if found:
            return found.group(1)
    return None


def datumaro_fork(source: str | Path, commit: str) -> Path | None:
    """The fork's source at ``commit`` beside CVAT's (in the directory of a source archive,
    beside a source tree): a ``.tar.gz`` or a directory named ``datumaro*<commit[:8]>*``."""
    path = Path(source).expanduser().resolve()
    for candidate in sorted(path.parent.glob(f"datumaro*{commit[:8]}*")):
        if candidate.is_dir() or candidate.name.endswith((".tar.gz", ".tgz")):
            return candidate
    return None


def unpack_datumaro(fork: Path, scratch: Path) -> Path:
    """The fork's tree (``setup.py`` and ``datumaro/`` in it), unpacked under ``scratch``."""
    root = fork if fork.is_dir() else _extract(fork, scratch / "datumaro", str(fork))
    if not (root / "datumaro").is_dir():
        raise SourceError(f"{fork}: no datumaro/ in it: not datumaro's source")
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


def venv_key(root: Path, interpreter: str, version: str, extra: str = "") -> str:
    """The cache key of CVAT's venv: a hash of what the venv is built from (the requirement
    files, the interpreter and its version, this recipe, and ``extra``: what the recipe does
    differently for this source, such as the datumaro fork it installs), so another CVAT release
    with other pins gets its own venv and one with the same pins shares it."""
    digest = hashlib.sha256(f"{RECIPE}\0{interpreter}\0{version}\0".encode())
    for name, content in sorted(requirement_files(root).items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    if extra:
        digest.update(b"\0" + extra.encode())
    return digest.hexdigest()[:16]


def migrations_key(root: Path) -> str:
    """A hash of CVAT's migrations (``cvat/**/migrations/*.py``): a database migrated by one
    source serves another with the same migrations (and the same venv, so Django's own)."""
    digest = hashlib.sha256(RECIPE.encode())
    for path in sorted(root.glob("cvat/**/migrations/*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]
