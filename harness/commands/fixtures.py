"""cvat-fn fixtures: turn requests recorded by ``cvat-fn dashboard --record`` into fixtures of
a cvat-fn.yaml, so what went wrong inside CVAT becomes a regression test.

Without ``--into`` it lists the recordings; with it, each chosen recording's images are copied
beside that cvat-fn.yaml and a fixture is added (comments and order of the file are kept).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness.commands.common import UsageError, guarded
from harness.suite.config import CONFIG_NAME

if TYPE_CHECKING:
    from harness.commands.common import SubParsers


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "fixtures",
        help="turn requests recorded by cvat-fn dashboard --record into cvat-fn.yaml fixtures",
        description=(__doc__ or "").split("\n\n")[0],
    )
    p.add_argument(
        "recordings",
        nargs="+",
        metavar="DIR",
        help="a --record directory (all of its recordings) or single recordings in it",
    )
    p.add_argument(
        "--into",
        metavar="PATH/cvat-fn.yaml",
        help="the cvat-fn.yaml to add fixtures to (made if missing); without it, list only",
    )
    p.add_argument(
        "--function",
        dest="function_name",
        metavar="NAME",
        help="only the recordings of this function",
    )
    p.add_argument(
        "--expect-answer",
        action="store_true",
        help="expect the recorded answer (shapes or re-id matches) in each new fixture",
    )
    p.set_defaults(run=guarded("fixtures", run))


def run(args: argparse.Namespace) -> int:
    from harness.nuclio.dashboard.fixtures import add_fixtures
    from harness.nuclio.dashboard.recording import RecordingError, find_recordings

    try:
        recordings = find_recordings([Path(p) for p in args.recordings])
    except RecordingError as exc:
        raise UsageError(str(exc)) from None
    if args.function_name:
        recordings = [r for r in recordings if r.function == args.function_name]
        if not recordings:
            raise UsageError(f"--function {args.function_name}: no recording of that function")
    if not args.into:
        for rec in recordings:
            print(rec.summary())
        return 0
    into = Path(args.into)
    if into.is_dir():
        into = into / CONFIG_NAME
    functions = sorted({r.function for r in recordings})
    if len(functions) > 1:
        raise UsageError(
            f"recordings of {len(functions)} functions ({', '.join(functions)}): one cvat-fn.yaml"
            " belongs to one function; choose with --function NAME"
        )
    try:
        added, notes = add_fixtures(recordings, into, expect_answer=args.expect_answer)
    except RecordingError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"--into {into}: {exc.strerror or exc}") from None
    for note in notes:
        print(f"note: {note}")
    for name in added:
        print(f"added fixture {name} to {into}")
    if not added:
        print(f"no fixture added to {into}")
    return 0
