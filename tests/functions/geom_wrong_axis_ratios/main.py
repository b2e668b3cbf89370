"""A face detector on a 320x320 input that scales its boxes back with the ratios on the wrong axes; see geom_base.py."""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from geom_base import detector_handler  # noqa: E402

init_context, handler = detector_handler("wrong-axis-ratios")
