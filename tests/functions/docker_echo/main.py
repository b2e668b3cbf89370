import json
import os
import sys


def _read(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return None


def init_context(context):
    context.user_data.greeting = os.environ.get("ECHO_GREETING")


def handler(context, event):
    body = event.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    answer = {
        "body": body,
        "greeting": context.user_data.greeting,
        "function_name": os.environ.get("NUCLIO_FUNCTION_NAME"),
        "baked_by": os.environ.get("BAKED_BY"),
        "pre_copy": _read("/etc/docker-echo-baked"),
        "post_copy": _read("/etc/docker-echo-post"),
        "volume": _read("/mnt/echo-volume/note.txt"),
        "cgroup_cpu": _read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") or _read("/sys/fs/cgroup/cpu.max"),
        "cgroup_memory": _read("/sys/fs/cgroup/memory/memory.limit_in_bytes")
        or _read("/sys/fs/cgroup/memory.max"),
        "python": sys.version.split()[0],
    }
    return context.Response(
        body=json.dumps(answer), content_type="application/json", status_code=200
    )
