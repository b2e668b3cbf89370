"""A GrabCut interactor that looks around its clicks only and forgets that crop's corner; see geom_base.py."""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from geom_base import interactor_handler  # noqa: E402

init_context, handler = interactor_handler("ignores-crop-offset")
