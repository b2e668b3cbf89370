"""A detector whose model costs exactly COST_MS per frame and finds nothing.

The frame is decoded from base64 (a model must do that much), then the worker waits: a model
bound by an accelerator leaves the CPU free the same way."""

import base64
import json
import os
import time

COST_S = float(os.environ.get("COST_MS", "50")) / 1000


def handler(context, event):
    started = time.perf_counter()
    data = event.body if isinstance(event.body, dict) else json.loads(event.body)
    base64.b64decode(data["image"])
    time.sleep(max(0.0, COST_S - (time.perf_counter() - started)))
    return context.Response(body=json.dumps([]), content_type="application/json")
