"""Round trip of a large request through the harness runtime, against ``json.loads`` of the same
body in one process: what the runtime adds to the one decoding a function cannot avoid.

    python bench/large_body.py [--requests 20] [--megabytes 10]

The body is CVAT's detector request for a 4K frame: ``{"image": BASE64, "threshold": 0.5}``,
the frame 7.5 MB of random bytes (as incompressible as a 4K PNG), 10 MB once in base64. It
goes to bench/noop (the worker decodes the JSON into event.body, as Nuclio's does, and the
handler returns at once) over one keep-alive connection. Prints both medians, their ratio,
and the load average.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import statistics
import sys
import time
from pathlib import Path

from harness.nuclio.runners.process import ProcessRunner
from harness.nuclio.runtime.wrapper import reuse_freed_memory

NOOP = Path(__file__).resolve().parent / "noop"


def request_body(megabytes: float) -> bytes:
    frame = os.urandom(int(megabytes * 1e6 * 3 / 4))
    return json.dumps({"image": base64.b64encode(frame).decode("ascii"), "threshold": 0.5}).encode()


def round_trips(url: str, body: bytes, count: int) -> list[float]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port))
    headers = {"Content-Type": "application/json"}
    times = []
    for i in range(count):
        started = time.perf_counter()
        connection.request("POST", "/", body, headers)
        response = connection.getresponse()
        response.read()
        times.append(time.perf_counter() - started)
        if response.status != 200:
            raise SystemExit(f"request {i}: HTTP {response.status}")
    connection.close()
    return times


def json_loads(body: bytes, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        json.loads(body)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--megabytes", type=float, default=10)
    args = parser.parse_args()
    # the reference at its best: this process keeps freed memory as the runtime's worker does,
    # so json.loads is not slowed by faulting its result's pages in again and again
    reuse_freed_memory()
    body = request_body(args.megabytes)
    print(f"starting {NOOP.name} with the process runner", file=sys.stderr)
    with ProcessRunner().start(NOOP) as running:
        round_trips(running.url, body, 3)  # warm-up
        over_http: list[float] = []
        loads: list[float] = []
        for _ in range(args.requests):  # interleaved, so both see the same machine
            over_http += round_trips(running.url, body, 1)
            loads += json_loads(body, 1)
    ms = 1e3
    http_median, loads_median = statistics.median(over_http), statistics.median(loads)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"body:            {len(body) / 1e6:.1f} MB, {args.requests} requests, load {load}")
    print(f"round trip:      median {http_median * ms:7.1f} ms   max {max(over_http) * ms:7.1f} ms")
    print(f"json.loads:      median {loads_median * ms:7.1f} ms   max {max(loads) * ms:7.1f} ms")
    print(f"ratio (medians): {http_median / loads_median:.2f}x json.loads of the body")


if __name__ == "__main__":
    main()
