"""A detector answering a point, a polyline, a skeleton and a tag, in a new random order every time; see shape_base.py."""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from shape_base import handler_for, init_context  # noqa: E402,F401

handler = handler_for("points", "polyline", "skeleton", "tag", shuffle=True)
