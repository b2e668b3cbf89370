"""Broken on purpose: every worker (a process of its own) writes the frame to the same
scratch file and reads it back, so two requests at once can swap frames.

The file is named for the processor (the workers' parent), so two test runs at once
do not share it; within one function every worker does.

Built on the face detector sample's model; tests/test_suite_catches.py checks that the
suite's concurrency check, and only it, fails on this function.
"""

import base64
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.append(str(Path(__file__).resolve().parents[3] / "sample_functions" / "face_detector"))
from model_handler import ModelHandler  # noqa: E402

DEFAULT_THRESHOLD = 0.5


def init_context(context):
    context.user_data.model = ModelHandler()


def parse_threshold(data) -> float:
    try:
        threshold = float(data.get("threshold", DEFAULT_THRESHOLD))
    except (TypeError, ValueError):
        return DEFAULT_THRESHOLD
    if threshold != threshold:  # NaN
        return DEFAULT_THRESHOLD
    return min(max(threshold, 0.0), 1.0)


def handler(context, event):
    data = event.body if isinstance(event.body, dict) else json.loads(event.body)
    threshold = parse_threshold(data)
    scratch = Path(tempfile.gettempdir()) / f"cvat-fn-broken-concurrency-{os.getppid()}.img"
    scratch.write_bytes(base64.b64decode(data["image"]))
    time.sleep(0.1)  # decode, resize, ...: time for another worker to overwrite the file
    image = Image.open(io.BytesIO(scratch.read_bytes()))
    scratch.unlink(missing_ok=True)
    results = context.user_data.model.infer(image, threshold)
    context.logger.info(f"{len(results)} face(s) at threshold {threshold}")
    return context.Response(
        body=json.dumps(results), headers={}, content_type="application/json", status_code=200
    )
