"""A GrabCut interactor whose mask has x and y exchanged; see geom_base.py."""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from geom_base import interactor_handler  # noqa: E402

init_context, handler = interactor_handler("xy-swapped")
