"""The built-in suite's wall time against what the model alone costs.

    python bench/suite_time.py [--cost-ms 100] [--workers 1 2 4]

A detector whose model costs exactly COST ms per call (bench/fixed_cost) goes through
``cvat-fn test`` with numWorkers 1, 2 and 4. Sending every request the suite sends, numWorkers
at a time, cannot take less than requests x COST / numWorkers, plus the time to ready: the
suite's wall time (the whole command, Python's start included) is printed against that bound.
The warm latency requests are timed one at a time on purpose (a latency under load is another
number), so a second bound counts them at their full cost. The most requests seen in flight at
once shows that the suite never sends more than numWorkers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
FUNCTION = HERE / "fixed_cost"


def function_copy(root: Path, workers: int, cost_ms: float) -> Path:
    target = root / f"fixed_cost_{workers}"
    shutil.copytree(FUNCTION, target)
    spec_path = target / "function.yaml"
    data = yaml.safe_load(spec_path.read_text())
    data["spec"]["triggers"]["myHttpTrigger"]["numWorkers"] = workers
    data["spec"]["env"] = [{"name": "COST_MS", "value": str(cost_ms)}]
    spec_path.write_text(yaml.safe_dump(data))
    return target


class Counting:
    """A pytest plugin: every request the suite sends, by check, and the most in flight."""

    def __init__(self) -> None:
        import harness.cvat.client

        self.by_check: Counter[str] = Counter()
        self.in_flight = 0
        self.most = 0
        self._lock = threading.Lock()
        self._check = "setup"
        original = harness.cvat.client.FunctionClient.send

        def send(client: Any, *args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.in_flight += 1
                self.most = max(self.most, self.in_flight)
                self.by_check[self._check] += 1
            try:
                return original(client, *args, **kwargs)
            finally:
                with self._lock:
                    self.in_flight -= 1

        harness.cvat.client.FunctionClient.send = send  # type: ignore[method-assign]

    def pytest_runtest_call(self, item: Any) -> None:
        self._check = item.name


def run_one(directory: Path, report: Path, out: Path) -> int:
    """In the child: ``cvat-fn test`` as its command line runs it (harness.commands.gate.run),
    counted."""
    import pytest

    from harness.commands.gate import pytest_invocation

    args = argparse.Namespace(
        directory=directory, runtime="process", report_dir=report, base_image=None,
        function_url=None, pytest_args=[],
    )  # fmt: skip
    report.mkdir(parents=True, exist_ok=True)
    counting = Counting()
    arguments, plugins = pytest_invocation(args)
    code = int(pytest.main(arguments, plugins=[*plugins, counting]))
    out.write_text(json.dumps({"by_check": counting.by_check, "most": counting.most}))
    return code


def measure(directory: Path, root: Path) -> dict[str, Any]:
    report, out = root / f"report_{directory.name}", root / f"{directory.name}.json"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, __file__, "--one", str(directory), str(report), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"the suite failed on {directory.name}:\n{done.stdout}\n{done.stderr}")
    counted = json.loads(out.read_text())
    document = json.loads((report / "report.json").read_text())
    return {"wall": wall, "ready": document["functions"][0]["ready_s"] or 0.0, **counted}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--cost-ms", type=float, default=100.0, help="the model's cost per call")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--one", nargs=3, metavar=("DIR", "REPORT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        raise SystemExit(run_one(*(Path(p) for p in args.one)))
    cost = args.cost_ms / 1000
    print(f"machine: {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="cvat-fn-bench-") as tmp:
        root = Path(tmp)
        for workers in args.workers:
            rows.append((workers, measure(function_copy(root, workers, args.cost_ms), root)))
    print(f"\nmodel cost {args.cost_ms:g} ms per call; wall time of cvat-fn test, Python's start"
          " included")  # fmt: skip
    print(f"{'numWorkers':>10} {'requests':>8} {'most':>5} {'wall s':>7} {'bound s':>8}"
          f" {'ratio':>6}   {'warm alone':>10} {'ratio':>6}")  # fmt: skip
    for workers, row in rows:
        requests = sum(row["by_check"].values())
        warm = row["by_check"].get("latency[warm]", 0)
        bound = requests * cost / workers + row["ready"]
        alone = warm * cost + (requests - warm) * cost / workers + row["ready"]
        print(
            f"{workers:>10} {requests:>8} {row['most']:>5} {row['wall']:>7.2f} {bound:>8.2f}"
            f" {row['wall'] / bound:>6.2f}   {alone:>10.2f} {row['wall'] / alone:>6.2f}"
        )
    print("\nbound: requests x cost / numWorkers + ready; warm alone: the warm requests at full"
          " cost, the rest / numWorkers, + ready")  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
