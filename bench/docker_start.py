"""Docker runner start-up, side by side for the two ways the code gets into the container:
mounted into an image only function.yaml decides (a developer's machine), against copied in
as Nuclio builds it (CI, ``cvat-fn build``: every code edit is a new image).

    python bench/docker_start.py [DIR] [--runs 5] [--cold]

For each way, on a copy of DIR (bench/noop by default): the cached start-to-ready (nothing
changed), and edit-to-ready (main.py edited, then started), medians over --runs each; with
--cold also the cold build-to-ready (the image removed first). The two ways take turns for
cached starts; edits are timed mounted first, then copied in. Prints the ratios of mounted
to copied, and the load average. Needs the Docker Engine and the local base image
(scripts/build-base-image.sh). The copy's images are removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness.nuclio.runners import image
from harness.nuclio.runners.docker import DockerRunner, default_base_image
from harness.nuclio.runners.labels import MANAGED
from harness.nuclio.spec import load_spec

NOOP = Path(__file__).resolve().parent / "noop"
MODES = ("mount", "copy")


def timed_start(runner: DockerRunner, directory: Path) -> tuple[float, str, bool]:
    started = time.monotonic()
    with runner.start(directory) as running:
        seconds = time.monotonic() - started
        return seconds, running.image, running.built  # type: ignore[attr-defined]


def remove_image(runner: DockerRunner, tag: str) -> None:
    image = runner.client.images.get(tag)
    if (image.labels or {}).get(MANAGED) != "true":
        raise SystemExit(f"{tag} does not carry {MANAGED}; not removing it")
    runner.client.images.remove(image.id, force=True)


def measure(
    runners: dict[str, DockerRunner], directory: Path, runs: int, cold: bool
) -> dict[str, dict[str, list[float]]]:
    """Seconds to ready for each way: cached starts, starts after an edit of main.py, cold
    builds; the ways take turns, so both see the same machine."""
    times: dict[str, dict[str, list[float]]] = {
        mode: {"cached": [], "edit": [], "cold": []} for mode in runners
    }
    tags = {mode: timed_start(runner, directory)[1] for mode, runner in runners.items()}
    for i in range(runs):
        for mode, runner in runners.items():
            print(f"{mode}: cached start {i + 1}/{runs}", file=sys.stderr)
            seconds, _, built = timed_start(runner, directory)
            assert not built, "an unchanged function was rebuilt"
            times[mode]["cached"].append(seconds)
    main = directory / "main.py"
    # Edits one way after the other: an image build (and the removal of the image it
    # replaces) keeps the engine busy for a while after it returns, and would slow the
    # mounted start that followed it.
    for mode, runner in runners.items():
        for i in range(runs):
            print(f"{mode}: edit main.py, start {i + 1}/{runs}", file=sys.stderr)
            with main.open("a", encoding="utf-8") as handle:
                handle.write(f"\nEDIT = {time.time_ns()}  # {mode} {i}\n")
            seconds, tags[mode], built = timed_start(runner, directory)
            assert built == (mode == "copy"), f"{mode}: built={built} after an edit"
            times[mode]["edit"].append(seconds)
    for i in range(runs if cold else 0):
        for mode, runner in runners.items():
            remove_image(runner, tags[mode])
            print(f"{mode}: cold start {i + 1}/{runs}", file=sys.stderr)
            seconds, tags[mode], built = timed_start(runner, directory)
            assert built, "the image was expected to be rebuilt"
            times[mode]["cold"].append(seconds)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("directory", nargs="?", type=Path, default=NOOP)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="also time cold builds (slow)")
    args = parser.parse_args()
    results: dict[str, dict[str, list[float]]] = {}
    started_load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="cvat-fn-bench-") as tmp:
        directory = Path(tmp) / args.directory.name
        shutil.copytree(args.directory, directory)
        runners = {
            mode: DockerRunner(
                base_image=default_base_image(), code=mode, progress=lambda message: None
            )
            for mode in MODES
        }
        try:
            results = measure(runners, directory, args.runs, args.cold)
        finally:
            client = runners["copy"].client
            for found in client.images.list(name=image.repository(load_spec(directory))):
                if (found.labels or {}).get(MANAGED) == "true":
                    client.images.remove(found.id, force=True)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"function:   {args.directory.name} (a copy), {args.runs} runs each; load average"
        f" {started_load:.2f} at the start, {load} at the end"
    )
    rows = [("cached", "cached start-to-ready"), ("edit", "edit main.py to ready")]
    if args.cold:
        rows.append(("cold", "cold build-to-ready"))
    for key, name in rows:
        for mode in MODES:
            each = ", ".join(f"{s:.2f}" for s in results[mode][key])
            median = statistics.median(results[mode][key])
            print(f"{name:<22} code {mode:<6} median {median:6.2f} s  ({each})")
        ratio = statistics.median(results["mount"][key]) / statistics.median(results["copy"][key])
        print(f"{'':<22} ratio (medians): mounted is {ratio:.2f}x copied in")


if __name__ == "__main__":
    main()
