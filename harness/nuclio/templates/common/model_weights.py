"""Where the model's files come from: weights/ beside this file, or $MODEL_WEIGHTS in the model's
image (see Dockerfile). Load every file through ``weights_file`` so that a missing or broken one
is named in the error that stops the function.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class WeightsError(RuntimeError):
    """A weights file is missing or unreadable; the message names the file."""


def weights_dir() -> Path:
    """$MODEL_WEIGHTS, else weights/ beside this file as it was imported (a link is not
    followed, so a directory that links its code in still reads its own weights/)."""
    beside = Path(os.path.abspath(__file__)).parent / "weights"
    return Path(os.environ.get("MODEL_WEIGHTS") or beside)


def weights_file(name: str) -> Path:
    path = weights_dir() / name
    if not path.is_file():
        raise WeightsError(f"weights file {path} is missing (attach it to the release)")
    if not os.access(path, os.R_OK):
        raise WeightsError(f"weights file {path} is not readable")
    return path


def load_settings(name: str, keys: tuple[str, ...]) -> dict:
    """A JSON object of the model's settings from weights/, every key in ``keys`` present."""
    path = weights_file(name)
    try:
        settings = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"weights file {path} is unreadable: {exc}") from None
    missing = [key for key in keys if not isinstance(settings, dict) or key not in settings]
    if missing:
        raise WeightsError(f"weights file {path} is unreadable: no {', '.join(missing)}")
    return settings
