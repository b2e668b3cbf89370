"""Broken on purpose: it raises on greyscale frames (modes 1, L and LA), which CVAT sends
for greyscale videos and scans. The fixtures are all colour, so only robustness sees it.

Built on the face detector sample's model (face_base.py); tests/test_suite_catches.py checks
that the suite's robustness check, and only it, fails on this function.
"""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from face_base import frame, init_context, read_request, respond  # noqa: E402,F401


def handler(context, event):
    data, threshold = read_request(event)
    image = frame(data)
    if image.mode in ("1", "L", "LA"):
        raise ValueError(f"expected a colour frame, got mode {image.mode}")
    return respond(context, context.user_data.model.infer(image, threshold), threshold)
