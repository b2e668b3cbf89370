"""Broken on purpose: every worker (a process of its own) writes the frame to the same
scratch file and reads it back, so two requests at once can swap frames.

The file is named for the processor (the workers' parent), so two test runs at once
do not share it; within one function every worker does.

Built on the face detector sample's model (face_base.py); tests/test_suite_catches.py checks
that the suite's concurrency check, and only it, fails on this function.
"""

import base64
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))

from face_base import decode_image, init_context, read_request, respond  # noqa: E402,F401


def handler(context, event):
    data, threshold = read_request(event)
    scratch = Path(tempfile.gettempdir()) / f"cvat-fn-broken-concurrency-{os.getppid()}.img"
    scratch.write_bytes(base64.b64decode(data["image"]))
    time.sleep(0.1)  # decode, resize, ...: time for another worker to overwrite the file
    image = decode_image(scratch.read_bytes())
    scratch.unlink(missing_ok=True)
    results = context.user_data.model.infer(image, threshold)
    return respond(context, results, threshold)
