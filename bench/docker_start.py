"""Docker runner start-up: cold build-to-ready (the function's image removed first) against a
cached start-to-ready (the image is reused), medians over N runs each.

    python bench/docker_start.py [DIR] [--runs 3]

Needs the Docker Engine and the local base image (scripts/build-base-image.sh). Only images
that carry cvat-fn's label are removed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from harness.runners.docker import DockerRunner, default_base_image
from harness.runners.labels import MANAGED

NOOP = Path(__file__).resolve().parent / "noop"


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("directory", nargs="?", type=Path, default=NOOP)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runner = DockerRunner(base_image=default_base_image())
    cold, cached = [], []
    _, tag, _ = timed_start(runner, args.directory)  # learn the tag
    for i in range(args.runs):
        remove_image(runner, tag)
        print(f"cold start {i + 1}/{args.runs}", file=sys.stderr)
        seconds, tag, built = timed_start(runner, args.directory)
        assert built, "the image was expected to be rebuilt"
        cold.append(seconds)
    for i in range(args.runs):
        print(f"cached start {i + 1}/{args.runs}", file=sys.stderr)
        seconds, _, built = timed_start(runner, args.directory)
        assert not built, "an unchanged function was rebuilt"
        cached.append(seconds)
    cold_median, cached_median = statistics.median(cold), statistics.median(cached)
    print(f"function:                {args.directory.name}")
    for name, times in (("cold build-to-ready:", cold), ("cached start-to-ready:", cached)):
        each = ", ".join(f"{s:.2f}" for s in times)
        print(f"{name:<24} median {statistics.median(times):6.2f} s  ({each})")
    print(f"ratio (medians):         cold is {cold_median / cached_median:.1f}x a cached start")


if __name__ == "__main__":
    main()
