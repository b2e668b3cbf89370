"""init_context takes 4 s: longer than the 2 s readinessTimeoutSeconds allows."""

import time


def init_context(context):
    context.logger.info("loading the model (4 s)")
    time.sleep(4)


def handler(context, event):
    return []
