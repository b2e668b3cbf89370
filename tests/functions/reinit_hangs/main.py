"""Counts its init_context runs in a file beside it (tests copy the directory first): the
second run hangs, as a model load stuck on a GPU lock does; the others return at once."""

import os
import time

COUNT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "inits.count")


def init_context(context):
    runs = 1
    if os.path.exists(COUNT):
        with open(COUNT) as f:
            runs = int(f.read() or 0) + 1
    with open(COUNT, "w") as f:
        f.write(str(runs))
    context.logger.info("init_context run {}".format(runs))
    if runs == 2:
        time.sleep(3600)


def handler(context, event):
    time.sleep(float(event.fields.get("s", "0")))
    return "ok"
