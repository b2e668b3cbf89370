"""Broken on purpose: init_context raises, as when the model's weights were never copied
into the image, so the function never becomes ready.

Built on the face detector sample's model (face_base.py); tests/test_suite_catches.py checks
that the suite's starts check, and only it, fails on this function.
"""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from face_base import frame, read_request, respond  # noqa: E402


def init_context(context):
    context.logger.info("loading face-v2.onnx")
    raise FileNotFoundError(
        "weights/face-v2.onnx is missing: the build step that downloads it did not run"
    )


def handler(context, event):
    data, threshold = read_request(event)
    return respond(context, context.user_data.model.infer(frame(data), threshold), threshold)
