"""What cvat-fn's subcommands share: bad input as one line and exit code 2, cvat-sdk modules.

Bad input is reported here rather than by ``harness.cli.main``: under ``python -m harness.cli``
that module runs as ``__main__``, so an exception class imported from ``harness.cli`` would not
be the one ``main`` catches. :func:`guarded` gives the same answer main gives: one line on
stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.cvat.client import ImageError
from harness.nuclio.spec import SpecError

Command = Callable[[argparse.Namespace], int]
if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


class UsageError(Exception):
    """Bad input from the user: printed as one line naming the problem, exit code 2."""


def fail(command: str, message: str) -> None:
    print(f"cvat-fn {command}: {message}", file=sys.stderr, flush=True)


def guarded(command: str, run: Command) -> Command:
    """``run`` with bad input (UsageError, an unreadable image) turned into one line, exit 2."""

    def wrapper(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except (UsageError, ImageError, SpecError) as exc:
            fail(command, str(exc))
            return 2

    return wrapper


def sdk_scratch(text: str, params: list[str], option: str = "") -> tuple[Path, Any]:
    """:func:`harness.sdk.scratch_directory` for invoke and serve: a cvat-sdk module as a
    scratch Nuclio directory, its failure a UsageError of one line after ``option``."""
    from harness.sdk import SdkUnavailable, scratch_directory

    try:
        return scratch_directory(text, params)
    except SdkUnavailable as exc:
        raise UsageError(f"{option}{exc}") from None
