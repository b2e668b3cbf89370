"""``--record DIR``: every request CVAT sent, one directory each, so what went wrong inside
CVAT can be replayed and turned into a fixture (``cvat-fn fixtures``).

A recording directory holds ``exchange.json`` (the function, kind, CVAT's headers, the
request's fields without its images, the answer, the findings) and each image of the request
as its own file (``image.jpg``, ``image0.png`` ...).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.nuclio.dashboard.verdicts import IMAGE_FIELDS, Verdict

EXCHANGE = "exchange.json"
FORMATS = {"JPEG": "jpg", "PNG": "png", "BMP": "bmp", "GIF": "gif", "TIFF": "tif", "WEBP": "webp"}


def image_suffix(data: bytes) -> str:
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return FORMATS.get(str(img.format), "bin")
    except (UnidentifiedImageError, OSError, ValueError):
        return "bin"


class Recorder:
    """Writes each verdict under ``root`` as ``NNNN-FUNCTION/``, numbered on from what the
    directory already holds."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        taken = [int(m.group(1)) for p in root.iterdir() if (m := re.match(r"(\d+)-", p.name))]
        self._numbers = itertools.count(max(taken, default=0) + 1)
        self._lock = threading.Lock()

    def __call__(self, verdict: Verdict) -> Path:
        ex, inv = verdict.exchange, verdict.invocation
        with self._lock:
            number = next(self._numbers)
        safe = re.sub(r"[^\w.-]+", "_", ex.function)
        where = self.root / f"{number:04d}-{safe}"
        where.mkdir(parents=True)
        images = {}
        for key, data in verdict.images.items():
            name = f"{key}.{image_suffix(data)}"
            (where / name).write_bytes(data)
            images[key] = name
        request = verdict.request
        fields = (
            {k: v for k, v in request.items() if k not in IMAGE_FIELDS}
            if isinstance(request, dict)
            else None
        )
        document = {
            "function": ex.function,
            "kind": ex.kind,
            "via": ex.via,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(ex.started)),
            "headers": ex.headers,
            "request": {"fields": fields, "images": images},
            "answer": {
                "status": inv.status,
                "error": inv.error,
                "latency_ms": round(inv.latency_s * 1000, 3),
                "body": inv.body if inv.status == 200 and inv.body is not None else inv.text,
            },
            "findings": verdict.to_json()["findings"],
            "cvat_version": verdict.cvat_version,
        }
        (where / EXCHANGE).write_text(json.dumps(document, indent=2, default=str) + "\n")
        return where


class RecordingError(ValueError):
    """A path given to ``cvat-fn fixtures`` holds no recording it can read."""


@dataclass
class Recording:
    """One recorded request, read back."""

    path: Path
    data: dict[str, Any]

    @property
    def function(self) -> str:
        return str(self.data.get("function") or "")

    @property
    def kind(self) -> str | None:
        kind = self.data.get("kind")
        return str(kind) if kind else None

    @property
    def fields(self) -> dict[str, Any]:
        fields = (self.data.get("request") or {}).get("fields")
        return fields if isinstance(fields, dict) else {}

    @property
    def images(self) -> dict[str, Path]:
        names = (self.data.get("request") or {}).get("images") or {}
        return {str(k): self.path / str(v) for k, v in names.items()}

    @property
    def status(self) -> int | None:
        status = (self.data.get("answer") or {}).get("status")
        return status if isinstance(status, int) else None

    @property
    def answer(self) -> Any:
        return (self.data.get("answer") or {}).get("body")

    def summary(self) -> str:
        findings = self.data.get("findings") or []
        errors = sum(f.get("severity") == "error" for f in findings)
        dropped = sum(f.get("severity") == "loss" for f in findings)
        status = f"HTTP {self.status}" if self.status is not None else "no answer"
        if self.status is not None and not 200 <= self.status < 300:
            status += " (CVAT fails the request)"
        return (
            f"{self.path.name}: {self.function} ({self.kind}) {self.data.get('time', '')},"
            f" {status}, {errors} error(s), {dropped} dropped"
        )


def read_recording(path: Path) -> Recording:
    file = path / EXCHANGE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordingError(f"{path}: no {EXCHANGE} (not a recording of --record)") from None
    except (OSError, ValueError) as exc:
        raise RecordingError(f"{file}: cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise RecordingError(f"{file}: not a recording (the top level is not an object)")
    return Recording(path, data)


def find_recordings(paths: list[Path]) -> list[Recording]:
    """Each path is a recording, or a --record directory: all of its recordings, in order."""
    found: list[Recording] = []
    for path in paths:
        if not path.is_dir():
            raise RecordingError(f"{path}: no such directory")
        if (path / EXCHANGE).is_file():
            found.append(read_recording(path))
            continue
        inside = sorted(p for p in path.iterdir() if (p / EXCHANGE).is_file())
        if not inside:
            raise RecordingError(f"{path}: no recordings here (made by cvat-fn dashboard --record)")
        found += [read_recording(p) for p in inside]
    return found
