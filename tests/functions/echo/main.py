"""Answers according to the request path, so one function exercises every runtime rule."""

import json
import os
import sys
import time

import helper

INITS = []


def init_context(context):
    INITS.append(os.getpid())
    context.user_data.pid = os.getpid()
    context.user_data.inits = len(INITS)
    context.logger.info("init_context ran")


def handler(context, event):
    path = event.path
    if path == "/event":
        body = event.body
        return context.Response(
            body=json.dumps(
                {
                    "body_type": type(body).__name__,
                    "body": body if isinstance(body, (dict, list, str)) else body.decode("latin-1"),
                    "content_type": event.content_type,
                    "headers": dict(event.headers),
                    "fields": dict(event.fields),
                    "path": event.path,
                    "method": event.method,
                    "size": event.size,
                    "id": event.id,
                    "trigger_kind": event.trigger.kind,
                    "worker_id": context.worker_id,
                    "worker_id_type": type(context.worker_id).__name__,
                    "pid": context.user_data.pid,
                    "inits": context.user_data.inits,
                    "cwd": os.getcwd(),
                    "env": {k: v for k, v in os.environ.items() if k.startswith(("NUCLIO_", "ECHO_"))},
                    "event_class": type(event).__module__ + "." + type(event).__name__,
                    "context_class": type(context).__module__ + "." + type(context).__name__,
                }
            ),
            content_type="application/json",
            status_code=200,
        )
    if path == "/helper":
        return helper.GREETING
    if path == "/str":
        return "plain text"
    if path == "/bytes":
        return b"\x00\x01binary"
    if path == "/dict":
        return {"a": 1}
    if path == "/list":
        return [{"first": 1}, {"second": 2}]
    if path == "/tuple":
        return 201, {"created": True}
    if path == "/response":
        return context.Response(body="teapot", headers={"X-Extra": "yes"},
                                content_type="text/x-tea", status_code=418)
    if path == "/response-list":
        return context.Response(body=[1, 2], content_type="application/json")
    if path == "/raise":
        raise ValueError("boom from handler")
    if path == "/sleep":
        time.sleep(float(event.fields.get("s", "5")))
        return "slept"
    if path == "/log":
        context.logger.debug("a debug line")
        context.logger.info_with("an info line", frame=3)
        context.logger.error("an error line")
        return "logged"
    if path == "/many-logs":
        for i in range(2000):
            context.logger.debug_with("line", i=i)
        return "logged a lot"
    if path == "/exit":
        os._exit(3)
    if path == "/sys-exit":
        sys.exit("handler called sys.exit")
    return "ok"
