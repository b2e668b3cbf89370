"""Pin function.yaml's build.baseImage to an image digest, keeping comments and layout.

ruamel.yaml's round-trip loader knows where each value sits (line and column), so the value is
replaced in the text itself and every other byte of the author's file stays as it was. Only
when there is no baseImage yet does ruamel.yaml write the file (comments kept, indentation
normalised).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

from harness.nuclio import files

# An image reference by digest: NAME@sha256:<64 hex>, NAME as Docker's reference grammar allows.
_DIGEST_REF = re.compile(r"[a-z0-9]+(?:[._:/-]+[a-z0-9]+)*@sha256:[0-9a-f]{64}")


class PinError(ValueError):
    """The file or the reference is wrong; the message names which and where."""


def is_digest_ref(ref: str) -> bool:
    return bool(_DIGEST_REF.fullmatch(ref))


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the author's long lines
    return yaml


def _splice(text: str, line: int, column: int, old: str, new: str) -> str | None:
    """``text`` with the scalar ``old`` at (line, column) replaced by ``new``; None when the
    token there is not ``old`` written plainly or in quotes (then the caller re-dumps)."""
    lines = text.splitlines(keepends=True)
    rest = lines[line][column:]
    for token in (json.dumps(old), f"'{old}'", old):
        if rest.startswith(token):
            quoted = token[0] in "'\"" and token != old
            value = json.dumps(new) if quoted else new
            lines[line] = lines[line][:column] + value + rest[len(token) :]
            return "".join(lines)
    return None


def pin_base_image(path: Path, ref: str, *, require_digest: bool = True) -> str | None:
    """Set ``spec.build.baseImage`` in ``path`` to ``ref``; return the value it replaced."""
    from ruamel.yaml.error import YAMLError

    if require_digest and not is_digest_ref(ref):
        raise PinError(
            f"--base-image {ref!r}: expected an image pinned by digest, NAME@sha256:<64 hex>"
        )
    try:
        text = files.checked_text(path)
    except files.FileError as exc:
        raise PinError(f"{path}: {exc.problem}") from None
    yaml = _yaml()
    try:
        data: Any = yaml.load(text)
    except YAMLError as exc:
        raise PinError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    spec = data.get("spec") if isinstance(data, dict) else None
    if not isinstance(spec, dict):
        raise PinError(f"{path}: spec: missing or not a mapping")
    build = spec.get("build")
    if build is not None and not isinstance(build, dict):
        raise PinError(f"{path}: spec.build: not a mapping")
    previous = build.get("baseImage") if build is not None else None
    if previous is not None and not isinstance(previous, str):
        raise PinError(f"{path}: spec.build.baseImage: not a string")
    pinned = None
    if build is not None and isinstance(previous, str) and hasattr(build, "lc"):
        line, column = build.lc.value("baseImage")
        pinned = _splice(text, line, column, previous, ref)
    if pinned is None:
        if build is None:
            build = spec["build"] = {}
        build["baseImage"] = ref
        out = io.StringIO()
        yaml.dump(data, out)
        pinned = out.getvalue()
    path.write_text(pinned)
    return previous
