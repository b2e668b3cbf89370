"""Broken on purpose: it refuses BMP frames with HTTP 400 ("unsupported format"). CVAT sends
the original files of an image task, BMP included, and fails the whole auto-annotation job
on any non-2xx answer. The fixtures are JPEG, so only robustness sees it.

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
    if image.format == "BMP":
        context.logger.warn("refusing a BMP frame")
        return context.Response(
            body="unsupported format: BMP", content_type="text/plain", status_code=400
        )
    return respond(context, context.user_data.model.infer(image, threshold), threshold)
