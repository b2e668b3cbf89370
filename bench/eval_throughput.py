"""cvat-fn eval's throughput against the model-bound limit, and its per-frame overhead.

    python bench/eval_throughput.py [--frames 60] [--cost-ms 50]

A detector whose model costs exactly COST ms per frame (bench/fixed_cost) can at best answer
numWorkers / COST frames per second. For numWorkers 1, 2 and 4 (eval's default: as many
requests handled at once, as many more waiting for a worker) this runs ``cvat-fn eval`` over a
generated 640x480 COCO export of FRAMES frames per worker and prints frames/s and its ratio
to that limit (target: at least 97 %). Then, with one worker, 1080p and 4K frames: the
time per frame beyond the model's cost is what eval, the HTTP request, base64 and JSON add
(targets: at most 2 ms at 1080p, 4 ms at 4K). Beside each, the same requests from a bare loop
(requests.Session, no dataset, no judging): the part of the overhead that is the runtime's
and HTTP's, not eval's.
Last, streaming: the peak of Python allocations (tracemalloc) during an evaluation of N and
of 4N 1080p frames, which stays flat when images are read one at a time.
Needs the eval extra (pip install -e ".[eval]").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

import yaml
from PIL import Image

from harness.eval.session import EvalOptions, run_eval

HERE = Path(__file__).resolve().parent
FUNCTION = HERE / "fixed_cost"
PHOTO = HERE.parent / "fixtures" / "images" / "astronaut.jpg"
SIZES = {"640x480": (640, 480), "1080p": (1920, 1080), "4K": (3840, 2160)}


def write_export(root: Path, size: tuple[int, int], frames: int) -> Path:
    """A COCO 1.0 export of ``frames`` copies of a photo at ``size`` (one box each)."""
    export = root / f"coco_{size[0]}x{size[1]}_{frames}"
    if export.exists():
        return export
    (export / "annotations").mkdir(parents=True)
    (export / "images" / "default").mkdir(parents=True)
    frame = Image.open(PHOTO).convert("RGB").resize(size, Image.Resampling.BICUBIC)
    images, annotations = [], []
    for i in range(1, frames + 1):
        name = f"frame_{i:04d}.jpg"
        frame.save(export / "images" / "default" / name, "JPEG", quality=90)
        images.append({"id": i, "width": size[0], "height": size[1], "file_name": name})
        annotations.append({"id": i, "image_id": i, "category_id": 1, "bbox": [10, 10, 50, 50],
                            "area": 2500.0, "iscrowd": 0, "segmentation": []})  # fmt: skip
    doc = {"images": images, "annotations": annotations,
           "categories": [{"id": 1, "name": "face", "supercategory": ""}]}  # fmt: skip
    (export / "annotations" / "instances_default.json").write_text(json.dumps(doc))
    return export


def function_copy(root: Path, workers: int, cost_ms: float) -> Path:
    target = root / f"fixed_cost_{workers}"
    if target.exists():
        return target
    shutil.copytree(FUNCTION, target)
    spec_path = target / "function.yaml"
    data = yaml.safe_load(spec_path.read_text())
    data["spec"]["triggers"]["myHttpTrigger"]["numWorkers"] = workers
    data["spec"]["env"] = [{"name": "COST_MS", "value": str(cost_ms)}]
    spec_path.write_text(yaml.safe_dump(data))
    return target


def peak_memory_mb(function: Path, export: Path, report: Path) -> float:
    """The peak of Python allocations while ``cvat-fn eval`` runs over ``export``."""
    import tracemalloc

    tracemalloc.start()
    try:
        measure(function, export, report, 4)
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def bare_client(function: Path, export: Path, workers: int) -> float:
    """Frames/s of the same requests sent by a bare loop (one requests.Session per thread, no
    dataset, no scoring): what the machine and the runtime allow, eval aside."""
    import base64
    import time
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from harness.nuclio.runners.process import ProcessRunner

    frames = sorted((export / "images" / "default").glob("*.jpg"))
    bodies = [{"image": base64.b64encode(f.read_bytes()).decode()} for f in frames]
    with ProcessRunner().start(function) as running:
        sessions = [requests.Session() for _ in range(workers)]

        def send(n: int) -> None:
            sessions[n % workers].post(running.url, json=bodies[n], timeout=60).raise_for_status()

        started = time.monotonic()
        with ThreadPoolExecutor(workers) as pool:
            lanes = [
                pool.submit(lambda lane=lane: [send(n) for n in range(lane, len(bodies), workers)])
                for lane in range(workers)
            ]
            for lane in lanes:
                lane.result()  # an HTTP error ends the benchmark
        return len(bodies) / (time.monotonic() - started)


def measure(function: Path, export: Path, report: Path, workers: int) -> float:
    """Frames per second of the run (images sent over the time they took, start excluded)."""
    result = run_eval(
        EvalOptions(
            function_dir=function,
            dataset=export,
            report_dir=report,
            concurrency=workers,
            show_progress=True,
            html=False,
        )
    )
    rate = result.document["images_per_s"]
    if result.document["failed_images"] or not rate:
        raise SystemExit(f"the run failed: {result.document['failures'][:1]}")
    return float(rate)


OVERHEAD_TARGET_MS = {"1080p": 2.0, "4K": 4.0}


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--frames", type=int, default=60, help="frames per run and worker (default 60)"
    )
    parser.add_argument("--cost-ms", type=float, default=50.0, help="the model's cost per frame")
    args = parser.parse_args()
    cost = args.cost_ms / 1000
    print(f"machine: {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="cvat-fn-bench-") as tmp:
        root = Path(tmp)
        rows = []
        for workers in (1, 2, 4):
            # as many frames per worker at each numWorkers: the same share of start-up
            export = write_export(root, SIZES["640x480"], args.frames * workers)
            function = function_copy(root, workers, args.cost_ms)
            rate = measure(function, export, root / f"r{workers}", workers)
            rows.append((workers, rate, workers / cost, bare_client(function, export, workers)))
        overhead = []
        function = function_copy(root, 1, args.cost_ms)
        for name in ("1080p", "4K"):
            frames = args.frames
            export = write_export(root, SIZES[name], frames)
            size_mb = sum(p.stat().st_size for p in export.rglob("*.jpg")) / 1e6
            per_frame = 1 / measure(function, export, root / f"o{name}", 1)
            bare = 1 / bare_client(function, export, 1)
            overhead.append((name, per_frame - cost, size_mb / frames, bare - cost))
        memory = []
        function = function_copy(root, 4, args.cost_ms)
        for count in (args.frames, 4 * args.frames):
            export = write_export(root, SIZES["1080p"], count)
            memory.append((count, peak_memory_mb(function, export, root / f"m{count}")))
            shutil.rmtree(export)
    print(
        f"\nmodel cost {args.cost_ms:g} ms per frame; {args.frames} frames of 640x480 per run"
        " and worker"
    )
    print(f"{'numWorkers':>10} {'frames/s':>9} {'limit':>7} {'ratio':>7}   bare client (ratio)"
          "   target >= 97 %")  # fmt: skip
    for workers, rate, limit, bare in rows:
        print(
            f"{workers:>10} {rate:>9.2f} {limit:>7.1f} {rate / limit:>7.1%}"
            f"   {bare:.2f} ({bare / limit:.1%})   {_verdict(rate / limit >= 0.97)}"
        )
    print("\nper-frame overhead beyond the model's cost, numWorkers 1:")
    for name, extra, mb, bare_extra in overhead:
        limit_ms = OVERHEAD_TARGET_MS[name]
        print(f"  {name:<6} {extra * 1000:7.1f} ms per frame ({mb:.2f} MB JPEG),"
              f" {extra / cost:.1%} of the model's cost; bare client {bare_extra * 1000:.1f} ms;"
              f" target <= {limit_ms:g} ms: {_verdict(extra * 1000 <= limit_ms)}")  # fmt: skip
    print("\npeak Python allocations during eval (tracemalloc), 1080p frames, numWorkers 4:")
    for count, mb in memory:
        print(f"  {count:>5} frames  {mb:7.1f} MB")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
