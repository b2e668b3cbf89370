"""A face detector run at two scales, its boxes merged, scaled back correctly; see geom_base.py."""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from geom_base import detector_handler  # noqa: E402

init_context, handler = detector_handler("ok-multiscale")
