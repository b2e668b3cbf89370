"""Round-trip cost of the harness runtime: N sequential requests to a handler that returns at
once, against calling that handler directly in-process with nuclio-sdk's own objects.

    python bench/roundtrip.py [--requests 1000] [--plot latency.png] [--peer]

Prints median and p99 of both, and their ratio; progress goes to stderr. With --peer, the
same handler served by functions-framework (pip install functions-framework) is measured
too, as a peer serverless runtime on the same machine, both servers taking turns in blocks
of a tenth of the requests. The load average is printed last.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nuclio_sdk

from harness.nuclio.runners.process import ProcessRunner
from harness.output.stats import percentile

NOOP = Path(__file__).resolve().parent / "noop"
PEER = Path(__file__).resolve().parent / "peer"
BODY = json.dumps({"image": "", "threshold": 0.5}).encode()


def direct_calls(count: int) -> list[float]:
    """The handler called in this process with a real nuclio_sdk Event and Context."""
    spec = importlib.util.spec_from_file_location("noop_main", NOOP / "main.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    context = nuclio_sdk.Context(nuclio_sdk.Logger(40), worker_id="0")
    event = nuclio_sdk.Event(body=json.loads(BODY), content_type="application/json")
    times = []
    for _ in range(count):
        started = time.perf_counter()
        module.handler(context, event)
        times.append(time.perf_counter() - started)
    return times


def connect(url: str) -> http.client.HTTPConnection:
    host, port = url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port))


def http_calls(connection: http.client.HTTPConnection, count: int) -> list[float]:
    headers = {"Content-Type": "application/json"}
    times = []
    for i in range(count):
        started = time.perf_counter()
        connection.request("POST", "/", BODY, headers)
        response = connection.getresponse()
        response.read()
        times.append(time.perf_counter() - started)
        if response.status != 200:
            raise SystemExit(f"request {i}: HTTP {response.status}")
    return times


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def peer_server() -> Iterator[str]:
    """The no-op handler under functions-framework, started here and stopped after."""
    port = free_port()
    command = [
        sys.executable, "-m", "functions_framework", "--target", "noop",
        "--source", str(PEER / "main.py"), "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(
                        "functions-framework did not start (is it installed?)"
                    ) from None
                time.sleep(0.05)  # the peer has no readiness endpoint: poll its port
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--plot", type=Path, help="write a latency histogram PNG here")
    parser.add_argument("--peer", action="store_true", help="also measure functions-framework")
    args = parser.parse_args()
    print(f"starting {NOOP.name} with the process runner", file=sys.stderr)
    with contextlib.ExitStack() as stack:
        running = stack.enter_context(ProcessRunner().start(NOOP))
        connections = [connect(running.url)]
        if args.peer:
            print("starting the peer: functions-framework", file=sys.stderr)
            connections.append(connect(stack.enter_context(peer_server())))
        for connection in connections:
            http_calls(connection, 50)  # warm-up: connection, worker, allocator
        # In blocks, taking turns, so both see the same machine (other work on it comes and
        # goes): 10 blocks of a tenth of the requests each.
        measured_times: list[list[float]] = [[] for _ in connections]
        block = max(1, args.requests // 10)
        for done in range(0, args.requests, block):
            for times, connection in zip(measured_times, connections, strict=True):
                times += http_calls(connection, min(block, args.requests - done))
            print(f"  {done + block}/{args.requests} requests", file=sys.stderr)
        for connection in connections:
            connection.close()
    over_http = measured_times[0]
    direct = direct_calls(args.requests)
    measured = [("over HTTP:", over_http), ("direct call:", direct)]
    if args.peer:
        measured.append(("functions-fw:", measured_times[1]))
    us = 1e6
    http_median, direct_median = statistics.median(over_http), statistics.median(direct)
    print(f"requests:        {args.requests} sequential, one keep-alive connection")
    for name, times in measured:
        median, p99 = statistics.median(times) * us, percentile(times, 99) * us
        print(f"{name:<16} median {median:8.1f} us   p99 {p99:8.1f} us")
    print(f"ratio (medians): {http_median / direct_median:.0f}x the direct call")
    if args.peer:
        peer_median = statistics.median(measured[2][1])
        peer_p99 = percentile(measured[2][1], 99)
        print(f"ratio (medians): {http_median / peer_median:.2f}x functions-framework")
        print(f"ratio (p99):     {percentile(over_http, 99) / peer_p99:.2f}x functions-framework")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average:    {load}")
    print(f"runtime overhead per request (median): {(http_median - direct_median) * 1000:.3f} ms")
    if args.plot:
        from harness.output.plot import latency_histogram

        image = latency_histogram([t * 1000 for t in over_http], {})
        image.save(args.plot)
        print(f"histogram: {args.plot}")


if __name__ == "__main__":
    main()
