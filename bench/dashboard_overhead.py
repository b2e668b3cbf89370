"""What ``cvat-fn dashboard`` adds to a request: the same detector called through the
dashboard (``POST /api/function_invocations`` with CVAT's headers) and on its own URL
(``status.internalInvocationUrls``), alternately, each over one kept-alive connection.

    python bench/dashboard_overhead.py [DIR] [--requests 100] [--warmup 10]

DIR defaults to sample_functions/face_detector (bench/noop isolates the dashboard's own cost);
the image is a 640x480 JPEG. Prints the median latency of each way, their difference and
ratio, and the median of the paired differences (the target: at most 5 ms added).
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "fixtures" / "images" / "astronaut.jpg"
CVAT_HEADERS = {  # cvat/apps/lambda_manager/views.py LambdaGateway._http, CVAT 2.73.0
    "x-nuclio-project-name": "cvat",
    "x-nuclio-function-namespace": "nuclio",
    "x-nuclio-invoke-via": "domain-name",
    "X-Nuclio-Invoke-Timeout": "120s",
    "x-nuclio-path": "/",
}


def jpeg_640x480() -> str:
    buffer = io.BytesIO()
    with Image.open(IMAGE) as img:
        img.convert("RGB").resize((640, 480)).save(buffer, "JPEG", quality=90)
    return base64.b64encode(buffer.getvalue()).decode()


def wait_ready(session: requests.Session, url: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listing = session.get(f"{url}/api/functions").json()
        for attrs in listing.values():
            if attrs["status"]["state"] == "ready":
                return attrs
            if attrs["status"]["state"] == "error":
                raise SystemExit(attrs["status"].get("message"))
        time.sleep(0.2)
    raise SystemExit("the function was not ready in time")


def timed(session: requests.Session, url: str, body: dict, headers: dict) -> float:
    started = time.perf_counter()
    reply = session.post(url, json=body, headers=headers)
    seconds = time.perf_counter() - started
    reply.raise_for_status()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("directory", nargs="?", default=ROOT / "sample_functions" / "face_detector")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    path = [str(ROOT), os.environ.get("PYTHONPATH")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, path)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "dashboard", str(args.directory), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        dashboard, direct = requests.Session(), requests.Session()
        attrs = wait_ready(dashboard, url)
        name = attrs["metadata"]["name"]
        own = f"http://{attrs['status']['internalInvocationUrls'][0]}/"
        through = f"{url}/api/function_invocations"
        headers = {**CVAT_HEADERS, "x-nuclio-function-name": name}
        body = {"image": jpeg_640x480(), "threshold": 0.5}
        for _ in range(args.warmup):
            timed(direct, own, body, {})
            timed(dashboard, through, body, headers)
        times_direct, times_dashboard = [], []
        for _ in range(args.requests):  # alternated, so both see the same machine load
            times_direct.append(timed(direct, own, body, {}))
            times_dashboard.append(timed(dashboard, through, body, headers))
        med_direct = statistics.median(times_direct) * 1000
        med_dashboard = statistics.median(times_dashboard) * 1000
        print(f"function: {name} ({args.directory}), 640x480 JPEG, {args.requests} requests each")
        print(f"direct (its own URL):        median {med_direct:8.2f} ms")
        print(f"through cvat-fn dashboard:   median {med_dashboard:8.2f} ms")
        pairs = zip(times_direct, times_dashboard, strict=True)
        paired = statistics.median(b - a for a, b in pairs) * 1000
        ratio = med_dashboard / med_direct
        print(f"added: {med_dashboard - med_direct:+.2f} ms (ratio {ratio:.3f});"
              f" median of paired differences {paired:+.2f} ms")  # fmt: skip
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)


if __name__ == "__main__":
    main()
