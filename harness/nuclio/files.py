"""A function directory's files, read so that no file in it can hang a command.

Every reader of function.yaml and cvat-fn.yaml (load_spec, lint, the suite, the dashboard,
``pin``, ``fixtures --into``, export) reads through :func:`read_yaml` or :func:`checked_text`,
so each refuses the same files with the same words, within a second:

- what is not a regular file: a FIFO (opening one waits for a writer that never comes), a
  socket, a device, a directory, a symlink loop;
- a file over :data:`MAX_YAML_BYTES` (CVAT 2.73's largest function.yaml, mmpose/hrnet32, is
  43 KB; PyYAML reads about 0.1 MB a second);
- aliases that expand to more than :data:`MAX_ALIAS_NODES` nodes (a "billion laughs": nine
  levels of ten aliases are 10^9 nodes), and an alias inside its own anchor. They are counted
  on the composed node graph, where an alias is the anchor's node itself, so nothing is
  expanded to count them. PyYAML's loader shares an alias's object, so it is fast; what then
  walks the data (lint's line index, ``str()`` of an annotation) expands it. Nuclio refuses
  both too: pkg/functionconfig/reader.go (``Reader.Read``) reads function.yaml with
  ghodss/yaml, i.e. gopkg.in/yaml.v2, whose decode.go (``unmarshal``) fails with "document
  contains excessive aliasing" and "anchor '...' value contains itself".

:func:`walk_files` lists a function directory with links followed, as the docker runner's
build context and ``export`` copy it, and says what it left out (FIFOs, sockets, devices,
links that loop) instead of hanging on it.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MAX_YAML_BYTES = 1 << 20
MAX_ALIAS_NODES = 100_000


class FileError(ValueError):
    """A file cannot be read as asked; the message starts with the file's name."""

    def __init__(self, path: Path, problem: str, *, shown: str | None = None) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{shown or path.name}: {problem}")


def _kind(mode: int) -> str | None:
    """What a stat mode is when it is not a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not a file: reading it would wait for a writer"
    if stat.S_ISDIR(mode):
        return "a directory, not a file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a file"
    return "not a regular file"


def _os_problem(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symlink loop (too many levels of symbolic links)"
    return f"cannot read: {exc.strerror or exc}"


def is_present(path: Path) -> bool:
    """True for a regular file (links followed), False when nothing is there (a dangling link
    too); FileError for anything else there: a FIFO, a directory, a symlink loop, ..."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise FileError(path, _os_problem(exc)) from None
    kind = _kind(mode)
    if kind:
        raise FileError(path, kind)
    return True


def read_text(path: Path, limit: int = MAX_YAML_BYTES) -> str:
    """``path`` as UTF-8 text, read only when it is a regular file of at most ``limit`` bytes.
    Opened non-blocking, so a FIFO put there after a check cannot hold the open either."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise FileError(path, _os_problem(exc)) from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        kind = _kind(info.st_mode)
        if kind:
            raise FileError(path, kind)
        if info.st_size > limit:
            raise FileError(path, _too_large(info.st_size, limit))
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise FileError(path, _os_problem(exc)) from None
    if len(data) > limit:  # it grew since fstat
        raise FileError(path, _too_large(len(data), limit))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileError(path, f"not UTF-8 text (byte {exc.start}): {exc.reason}") from None


def _too_large(size: int, limit: int) -> str:
    return (
        f"over the {limit / (1 << 20):g} MiB cvat-fn reads of a YAML file ({size / 1e6:.1f} MB;"
        " a function.yaml is a few KB): is this the right file?"
    )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_aliases(root: yaml.Node | None, path: Path, limit: int = MAX_ALIAS_NODES) -> None:
    """Refuse a node graph whose aliases would expand past ``limit`` nodes, or that holds an
    alias inside its own anchor; counted without expanding anything (each node once)."""
    if root is None:
        return
    visiting, done = 1, 2
    state: dict[int, int] = {}
    size: dict[int, int] = {}
    aliases = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        key = id(node)
        if leaving:
            size[key] = 1 + sum(size[id(child)] for child in _children(node))
            state[key] = done
            continue
        seen = state.get(key)
        if seen == done:
            aliases += 1
            continue
        if seen == visiting:
            mark = node.start_mark
            raise FileError(
                path,
                f"line {mark.line + 1}: an alias inside its own anchor (the value would contain"
                " itself without end); Nuclio refuses it too",
            )
        state[key] = visiting
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node))
    extra = size[id(root)] - len(state)
    if extra > limit:
        raise FileError(
            path,
            f"{aliases} aliases expand to more than {limit:,} nodes ({size[id(root)]:,} in all):"
            " refused before expanding them (an alias bomb?); Nuclio refuses it too"
            " (document contains excessive aliasing)",
        )


def _compose(text: str, path: Path) -> tuple[yaml.SafeLoader, yaml.Node | None]:
    """The node graph of a one-document YAML text, anchors shared, nothing expanded.
    Parse errors are the caller's: they are yaml.YAMLError."""
    loader = yaml.SafeLoader(text)
    try:
        return loader, loader.get_single_node()
    except RecursionError:
        loader.dispose()
        raise FileError(path, "nested too deeply to read") from None


def checked_text(path: Path) -> str:
    """``path``'s text, refused as :func:`read_yaml` refuses it, for a reader that parses it
    itself (ruamel.yaml's round trip, which keeps comments). A text PyYAML cannot parse is
    left to that reader to say so."""
    text = read_text(path)
    try:
        loader, root = _compose(text, path)
    except yaml.YAMLError:
        return text
    loader.dispose()
    check_aliases(root, path)
    return text


def read_yaml(path: Path) -> tuple[str, Any]:
    """(text, data) of a YAML file read safely; yaml.YAMLError when it is not valid YAML."""
    text = read_text(path)
    loader, root = _compose(text, path)
    try:
        check_aliases(root, path)
        try:
            data = loader.construct_document(root) if root is not None else None
        except RecursionError:
            raise FileError(path, "nested too deeply to read") from None
    finally:
        loader.dispose()
    return text, data


@dataclass
class FileWalk:
    """A directory's files, links followed, and what was left out and why."""

    files: list[tuple[str, Path]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def walk_files(
    directory: Path,
    ignored_dirs: Collection[str] = (),
    ignored_suffixes: tuple[str, ...] = (),
    skip: Callable[[Path], bool] | None = None,
) -> FileWalk:
    """(relative path, file) of every regular file under ``directory``, symlinks followed,
    sorted. A link to a directory it is already inside (a loop) is not followed; FIFOs,
    sockets, devices and links that loop are left out, each with a line in ``skipped``.
    Links that point nowhere are left out silently (an editor's lock file), as is what
    ``skip`` (given each directory and file) is true for."""
    walk = FileWalk()
    chains: dict[str, frozenset[str]] = {str(directory): frozenset({os.path.realpath(directory)})}

    def problem(exc: OSError) -> None:
        if exc.filename is not None:
            rel = os.path.relpath(exc.filename, directory)
            walk.skipped.append(f"{rel}: {_os_problem(exc)}: left out")

    for root, dirs, files in os.walk(directory, followlinks=True, onerror=problem):
        chain = chains.pop(root, frozenset())
        kept = []
        for name in sorted(dirs):
            if name in ignored_dirs or (skip and skip(Path(root, name))):
                continue
            real = os.path.realpath(os.path.join(root, name))
            rel = Path(root, name).relative_to(directory).as_posix()
            if real in chain:
                walk.skipped.append(f"{rel}: a symlink loop (a link to a directory it is in):"
                                    " not followed")  # fmt: skip
                continue
            chains[os.path.join(root, name)] = chain | {real}
            kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            path = Path(root, name)
            if name.endswith(ignored_suffixes) or (skip and skip(path)):
                continue
            rel = path.relative_to(directory).as_posix()
            try:
                mode = path.stat().st_mode
            except FileNotFoundError:
                continue
            except OSError as exc:
                walk.skipped.append(f"{rel}: {_os_problem(exc)}: left out")
                continue
            kind = _kind(mode)
            if kind:
                walk.skipped.append(f"{rel}: {kind.split(':')[0]}: left out")
                continue
            walk.files.append((rel, path))
    return walk
