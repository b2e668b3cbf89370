"""A detector whose model costs exactly COST_MS per frame and finds nothing.

The frame is decoded from base64 (a model must do that much), then the worker waits: a model
bound by an accelerator leaves the CPU free the same way. time.sleep wakes a few tenths of a
millisecond late, so the last half millisecond is waited out on the clock: the cost is COST_MS,
not COST_MS and the sleep's lateness."""

import base64
import json
import os
import time

COST_S = float(os.environ.get("COST_MS", "50")) / 1000
SPIN_S = 0.0005


def handler(context, event):
    started = time.perf_counter()
    data = event.body if isinstance(event.body, dict) else json.loads(event.body)
    base64.b64decode(data["image"])
    deadline = started + COST_S
    time.sleep(max(0.0, deadline - SPIN_S - time.perf_counter()))
    while time.perf_counter() < deadline:
        pass
    return context.Response(body=json.dumps([]), content_type="application/json")
