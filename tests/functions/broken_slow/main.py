"""Broken on purpose: it sleeps a quarter of a second on every request, as a model reloaded
per request would; the warm latency budget (p50 200 ms, below the sleep alone) catches it.

Built on the face detector sample's model (face_base.py); tests/test_suite_catches.py checks
that the suite's latency[warm] check, and only it, fails on this function.
"""

import sys
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))

from face_base import frame, init_context, read_request, respond  # noqa: E402,F401


def handler(context, event):
    data, threshold = read_request(event)
    time.sleep(0.25)
    return respond(context, context.user_data.model.infer(frame(data), threshold), threshold)
