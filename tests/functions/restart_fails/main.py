"""init_context works for the first worker only (a marker per processor), so the restart
after a timed-out event fails, as when a model's GPU memory is never given back."""

import os
import tempfile
import time

MARKER = os.path.join(tempfile.gettempdir(), "cvat-fn-restart-fails-{}".format(os.getppid()))


def init_context(context):
    if os.path.exists(MARKER):
        raise RuntimeError("the model cannot be loaded a second time")
    with open(MARKER, "w"):
        pass


def handler(context, event):
    time.sleep(float(event.fields.get("s", "0")))
    return "ok"
