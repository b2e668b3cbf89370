"""Where the runtime's time per request goes: py-spy flame graphs of the processor and of
one worker while requests keep them busy.

    python bench/profile_runtime.py [--seconds 8] [--size 640x480] [--out profile/]

bench/noop runs under the process runner; two keep-alive clients send CVAT's detector
request for a JPEG of the given size, so that one request always waits for the worker (as
eval sends them). py-spy (``pip install py-spy``; it attaches with ptrace, so run as root or
with ptrace allowed) samples the processor and the worker for SECONDS and writes
``processor.svg`` and ``worker.svg`` (flame graphs) and the same samples as text
(``*.txt``, one stack per line), then prints each one's ten costliest frames.
"""

from __future__ import annotations

import argparse
import base64
import collections
import http.client
import io
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from PIL import Image

from harness.nuclio.runners.process import ProcessFunction, ProcessRunner

HERE = Path(__file__).resolve().parent
PHOTO = HERE.parent / "fixtures" / "images" / "astronaut.jpg"


def request_body(width: int, height: int) -> bytes:
    frame = io.BytesIO()
    Image.open(PHOTO).convert("RGB").resize((width, height)).save(frame, "JPEG", quality=90)
    return json.dumps({"image": base64.b64encode(frame.getvalue()).decode("ascii")}).encode()


def worker_of(processor: int) -> int:
    """The pid of the processor's first worker, from the process table."""
    table = subprocess.run(["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True)
    rows = [line.split(None, 2) for line in table.stdout.splitlines()[1:]]
    workers = [r for r in rows if len(r) == 3 and r[1] == str(processor) and "wrapper" in r[2]]
    if not workers:
        raise SystemExit(f"no worker of the processor {processor} in the process table")
    return int(workers[0][0])


def summary(path: Path, top: int = 10) -> list[str]:
    """The frames with the most samples of their own, from py-spy's raw output."""
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        own[stack.split(";")[-1]] += int(count)
    return [f"{100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--size", default="640x480", help="the JPEG's WIDTHxHEIGHT")
    parser.add_argument("--out", type=Path, default=Path("profile"))
    args = parser.parse_args()
    spy = shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is not installed: pip install py-spy")
    width, height = (int(v) for v in args.size.split("x"))
    body = request_body(width, height)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"starting noop with the process runner; {len(body)} byte requests", file=sys.stderr)
    with ProcessRunner().start(HERE / "noop") as running:
        host, port = running.url.removeprefix("http://").split(":")
        assert isinstance(running, ProcessFunction)
        processor = running.proc.pid
        worker = worker_of(processor)
        until = time.monotonic() + args.seconds + 2

        def client() -> None:
            connection = http.client.HTTPConnection(host, int(port))
            while time.monotonic() < until:
                connection.request("POST", "/", body, {"Content-Type": "application/json"})
                connection.getresponse().read()

        clients = [threading.Thread(target=client) for _ in range(2)]
        for thread in clients:
            thread.start()
        time.sleep(1)
        spies = {}
        for name, pid in (("processor", processor), ("worker", worker)):
            for fmt, suffix in (("flamegraph", "svg"), ("raw", "txt")):
                out = args.out / f"{name}.{suffix}"
                command = [spy, "record", "-p", str(pid), "-d", str(args.seconds), "-r", "500",
                           "--nonblocking", "-f", fmt, "-o", str(out)]  # fmt: skip
                spies[out] = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        for out, spy_process in spies.items():
            if spy_process.wait() != 0:
                raise SystemExit(f"py-spy failed writing {out} (ptrace not allowed?)")
        for thread in clients:
            thread.join()
    for name in ("processor", "worker"):
        print(f"\n{name}: {args.out / (name + '.svg')}; frames with the most own samples")
        print("\n".join(summary(args.out / f"{name}.txt")))


if __name__ == "__main__":
    main()
