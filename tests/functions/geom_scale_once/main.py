"""A face detector on a 320x320 input that keeps the first frame's ratios for every frame; see geom_base.py."""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from geom_base import detector_handler  # noqa: E402

init_context, handler = detector_handler("scale-once")
