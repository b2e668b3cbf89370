"""A stand-in for GitHub's `gh` CLI, since GitHub cannot be reached from the tests.

It answers the calls ci/release.sh makes, on releases kept as folders under
$GH_STANDIN_DIR/releases/<tag>/ (the folder's files are the release's assets), with the
repository's tags listed in $GH_STANDIN_DIR/tags in the order they were published, and
records every call in $GH_STANDIN_DIR/calls.jsonl. Arguments, JSON fields and messages follow
gh 2.x (`gh help release`; pkg/cmd/release/{list,view,download,upload,delete} in cli/cli):
  gh release download [TAG] --dir DIR [--pattern GLOB] [--clobber]
      no TAG: the latest release, as gh does; here the last of $GH_STANDIN_DIR/tags that
      has a release
  gh release upload TAG FILE... [--clobber]
  gh release delete TAG [--cleanup-tag] [--yes]
  gh release list [--exclude-drafts] [--limit N] --json tagName[,isDraft,isPrerelease]
      the newest first, as gh lists them (no drafts here: a folder is a published release)
  gh release view TAG --json assets[,tagName]
      the regression gate's look-ups: which earlier release has an eval.json attached
"""

from __future__ import annotations

import argparse
import fnmatch
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
    download.add_argument("--pattern", "-p", action="append", default=[])
    download.add_argument("--clobber", action="store_true")
    upload = release.add_parser("upload")
    upload.add_argument("tag")
    upload.add_argument("files", nargs="+")
    upload.add_argument("--clobber", action="store_true")
    delete = release.add_parser("delete")
    delete.add_argument("tag")
    delete.add_argument("--cleanup-tag", action="store_true")
    delete.add_argument("--yes", "-y", action="store_true")
    listing = release.add_parser("list")
    listing.add_argument("--exclude-drafts", action="store_true")
    listing.add_argument("--limit", "-L", type=int, default=30)
    listing.add_argument("--json", dest="fields", required=True)
    view = release.add_parser("view")
    view.add_argument("tag")
    view.add_argument("--json", dest="fields", required=True)
    args = parser.parse_args(argv)

    tags = (state / "tags").read_text().split() if (state / "tags").exists() else []
    if args.command == "list":
        newest_first = [t for t in reversed(tags) if (state / "releases" / t).is_dir()]
        rows = [{"tagName": t, "isDraft": False, "isPrerelease": False} for t in newest_first]
        fields = _fields(args.fields, {"tagName": "", "isDraft": False, "isPrerelease": False})
        if fields is None:
            return 1
        print(json.dumps([{k: row[k] for k in fields} for row in rows[: args.limit]]))
        return 0
    if args.tag is None:
        released = [t for t in tags if (state / "releases" / t).is_dir()]
        if not released:
            print("release not found", file=sys.stderr)
            return 1
        args.tag = released[-1]
    folder = state / "releases" / args.tag
    if not folder.is_dir():
        print("release not found", file=sys.stderr)
        return 1
    if args.command == "view":
        assets = sorted(p for p in folder.iterdir() if p.is_file())
        row = {
            "tagName": args.tag,
            "assets": [{"name": p.name, "size": p.stat().st_size} for p in assets],
        }
        fields = _fields(args.fields, row)
        if fields is None:
            return 1
        print(json.dumps({k: row[k] for k in fields}))
        return 0
    if args.command == "download":
        assets = sorted(p for p in folder.iterdir() if p.is_file())
        if args.pattern:
            assets = [a for a in assets if any(fnmatch.fnmatch(a.name, g) for g in args.pattern)]
            if not assets:
                print("no assets match the file pattern", file=sys.stderr)
                return 1
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
        (state / "tags").write_text("".join(f"{t}\n" for t in tags if t != args.tag))
    return 0


def _fields(requested: str, row: dict) -> list[str] | None:
    """The --json fields asked for, or None after gh's message for an unknown one."""
    fields = [f for f in requested.split(",") if f]
    unknown = [f for f in fields if f not in row]
    if unknown or not fields:
        print(f'Unknown JSON field: "{unknown[0] if unknown else requested}"', file=sys.stderr)
        print("Available fields:\n  " + "\n  ".join(sorted(row)), file=sys.stderr)
        return None
    return fields


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
