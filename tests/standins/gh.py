"""A stand-in for GitHub's `gh` CLI, since GitHub cannot be reached from the tests.

It answers the three calls ci/release.sh makes, on releases kept as folders under
$GH_STANDIN_DIR/releases/<tag>/ (the folder's files are the release's assets), with the
repository's tags listed in $GH_STANDIN_DIR/tags, and records every call in
$GH_STANDIN_DIR/calls.jsonl. Arguments and messages follow gh 2.x:
  gh release download [TAG] --dir DIR [--clobber]   (no TAG: the latest release, as gh does;
                                                      here the last of $GH_STANDIN_DIR/tags that
                                                      has a release)
  gh release upload TAG FILE... [--clobber]
  gh release delete TAG [--cleanup-tag] [--yes]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    state = Path(os.environ["GH_STANDIN_DIR"])
    with (state / "calls.jsonl").open("a") as calls:
        calls.write(json.dumps(argv) + "\n")
    parser = argparse.ArgumentParser(prog="gh")
    sub = parser.add_subparsers(dest="group", required=True)
    release = sub.add_parser("release").add_subparsers(dest="command", required=True)
    download = release.add_parser("download")
    download.add_argument("tag", nargs="?")
    download.add_argument("--dir", "-D", default=".")
    download.add_argument("--clobber", action="store_true")
    upload = release.add_parser("upload")
    upload.add_argument("tag")
    upload.add_argument("files", nargs="+")
    upload.add_argument("--clobber", action="store_true")
    delete = release.add_parser("delete")
    delete.add_argument("tag")
    delete.add_argument("--cleanup-tag", action="store_true")
    delete.add_argument("--yes", "-y", action="store_true")
    args = parser.parse_args(argv)

    if args.tag is None:
        tags = (state / "tags").read_text().split() if (state / "tags").exists() else []
        released = [t for t in tags if (state / "releases" / t).is_dir()]
        if not released:
            print("release not found", file=sys.stderr)
            return 1
        args.tag = released[-1]
    folder = state / "releases" / args.tag
    if not folder.is_dir():
        print("release not found", file=sys.stderr)
        return 1
    if args.command == "download":
        assets = sorted(p for p in folder.iterdir() if p.is_file())
        if not assets:
            print("no assets to download", file=sys.stderr)
            return 1
        target = Path(args.dir)
        target.mkdir(parents=True, exist_ok=True)
        for asset in assets:
            if (target / asset.name).exists() and not args.clobber:
                print(f"{target / asset.name} already exists (use --clobber)", file=sys.stderr)
                return 1
            shutil.copyfile(asset, target / asset.name)
        return 0
    if args.command == "upload":
        for name in args.files:
            if (folder / Path(name).name).exists() and not args.clobber:
                print(f"asset {Path(name).name} already exists", file=sys.stderr)
                return 1
            shutil.copyfile(name, folder / Path(name).name)
        return 0
    if not args.yes:
        print("--yes required when not running interactively", file=sys.stderr)
        return 1
    shutil.rmtree(folder)
    if args.cleanup_tag:
        tags = (state / "tags").read_text().split()
        (state / "tags").write_text("".join(f"{t}\n" for t in tags if t != args.tag))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
