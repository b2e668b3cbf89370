"""cvat-fn test: the built-in suite with JUnit, JSON and HTML reports, as a CI gate.

Exit code 0 only when every check holds; the JUnit file is written in every case.
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.commands.common import UsageError, guarded
from harness.nuclio.runners import RUNTIMES
from harness.nuclio.spec import find_function_yaml

if TYPE_CHECKING:
    from harness.commands.common import SubParsers


class GateParser(argparse.ArgumentParser):
    """``cvat-fn test``'s parser: its own options and DIR are split from pytest's first, so
    an option meant for pytest may come before DIR (``cvat-fn test -k thr ./my_model``)."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        ours, theirs = split_arguments(list(sys.argv[1:] if args is None else args), self)
        parsed, extra = super().parse_known_args(ours, namespace)
        parsed.pytest_args = [*theirs, *extra]
        return parsed, []


def split_arguments(
    tokens: list[str], parser: argparse.ArgumentParser
) -> tuple[list[str], list[str]]:
    """(cvat-fn test's options and DIR, pytest's options and arguments), each in order.

    DIR is the first word that is neither an option nor an option's value; which pytest
    options take a value, pytest's own parser says (with the plugins installed).
    """
    own = {o: a.nargs != 0 for a in parser._actions for o in a.option_strings}
    ours: list[str] = []
    theirs: list[str] = []
    have_directory = False
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token == "--":
            theirs += tokens[i:]
            break
        if not token.startswith("-") or token == "-":
            if have_directory:
                theirs.append(token)
            else:
                ours.append(token)
                have_directory = True
            continue
        name = token.split("=", 1)[0] if token.startswith("--") else token[:2]
        mine = name in own
        takes = own if mine else pytest_value_options()
        if not mine and name not in takes:
            takes = pytest_value_options(plugins=True)
        target = ours if mine else theirs
        target.append(token)
        if _needs_next(token, takes) and i < len(tokens):
            target.append(tokens[i])
            i += 1
    return ours, theirs


def _needs_next(token: str, takes: Mapping[str, bool]) -> bool:
    """Whether ``token``'s value is the next word (``--opt V``, ``-k V``, ``-xk V``)."""
    if token.startswith("--"):
        return "=" not in token and takes.get(token, False)
    for j, char in enumerate(token[1:], start=1):
        if takes.get("-" + char, False):
            return j == len(token) - 1  # else the value is attached: -kthr, -rs
        if "-" + char not in takes:
            return False
    return False


# pytest's core options that take a value, should its parser not be there to ask.
PYTEST_VALUE_OPTIONS = ("-k", "-m", "-p", "-c", "-o", "-W", "-r", "--maxfail", "--deselect")
LIST_OPTIONS = """
import json
from _pytest.config import get_config
config = get_config()
if AUTOLOAD:
    config.pluginmanager.load_setuptools_entrypoints("pytest11")
else:
    import harness.suite.plugin
    config.pluginmanager.register(harness.suite.plugin, "cvat-fn")
parser = config._parser
argparser = getattr(parser, "optparser", None) or parser._getparser()  # pytest 9 / 8
print(json.dumps({o: a.nargs != 0 for a in argparser._actions for o in a.option_strings}))
"""


@functools.cache
def pytest_value_options(plugins: bool = False) -> dict[str, bool]:
    """pytest's options -> whether each takes a value, as pytest's own parser says.

    Asked in a child process: importing the plugins here, before pytest.main, would stop
    pytest from rewriting their asserts. ``plugins`` adds the installed plugins' options
    (a slower start, so only asked for an option the core and cvat-fn do not know).
    """
    code = LIST_OPTIONS.replace("AUTOLOAD", str(plugins))
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
        )
        return dict(json.loads(done.stdout))
    except (OSError, ValueError, subprocess.SubprocessError):
        return dict.fromkeys(PYTEST_VALUE_OPTIONS, True)


def register(sub: SubParsers) -> None:
    # add_parser() takes no parser class: the subparsers action holds the one it makes.
    default_class = sub._parser_class
    sub._parser_class = GateParser
    try:
        p = sub.add_parser(
            "test",
            help="run the built-in suite with reports; exit 0 only when everything holds",
            description=(__doc__ or "").split("\n\n")[0],
        )
    finally:
        sub._parser_class = default_class
    p.add_argument("directory", nargs="?", default=".", metavar="DIR")
    p.add_argument("--runtime", choices=RUNTIMES, default="process")
    p.add_argument("--base-image", metavar="IMAGE", help="with --runtime docker")
    p.add_argument("--function-url", metavar="URL", help="with --runtime url")
    p.add_argument(
        "--report-dir",
        type=Path,
        default=Path("cvat-fn-report"),
        help="where junit.xml, report.json and report.html go (default: ./cvat-fn-report)",
    )
    p.add_argument(
        "pytest_args",
        nargs="*",
        metavar="PYTEST_OPTION",
        help="any other option goes to pytest, before or after DIR, e.g. --budget p95_ms=500"
        " or -k threshold",
    )
    p.set_defaults(run=guarded("test", run))


PREIMPORTED = ("harness", "hypothesis", "_hypothesis_globals")
"""Packages the suite imports that run() imports before pytest starts: pytest rewrites the
asserts of every package of a distribution that has a pytest plugin (cvat-fn's, Hypothesis's),
re-parsing its sources at each start when bytecode is not cached (PYTHONDONTWRITEBYTECODE),
though neither holds a test of the user's. Its warning that it could not is dropped."""


def pytest_arguments(args: argparse.Namespace) -> list[str]:
    report = args.report_dir
    quiet = [
        f"ignore:Module already imported so cannot be rewritten; {name}:"
        "pytest.PytestAssertRewriteWarning"
        for name in PREIMPORTED
    ]
    command = [
        "--function", str(args.directory),
        "--runtime", args.runtime,
        "--junitxml", str(report / "junit.xml"),
        "--cvat-fn-json", str(report / "report.json"),
        "--cvat-fn-html", str(report / "report.html"),
        "-p", "no:cacheprovider",
        "--rootdir", str(_rootdir(args.directory)),
        "-q", "-rfE",
        *(arg for warning in quiet for arg in ("-W", warning)),
    ]  # fmt: skip
    if args.base_image:
        command += ["--base-image", args.base_image]
    if args.function_url:
        command += ["--function-url", args.function_url]
    return command + list(args.pytest_args or [])


def pytest_invocation(args: argparse.Namespace) -> tuple[list[str], list[object]]:
    """pytest.main's arguments and plugins for ``cvat-fn test``. The built-in suite alone
    needs no other installed plugin, and loading them all (anyio's imports trio, for one)
    took half a second of every run: they are left out unless pytest is asked for more."""
    import pytest

    import harness.suite.plugin  # (imported now, its asserts are not rewritten: PREIMPORTED)

    arguments = pytest_arguments(args)
    if args.pytest_args or not _autoload_optional(pytest.__version__):
        return arguments, []
    return [*arguments, "--disable-plugin-autoload"], [harness.suite.plugin]


def _autoload_optional(version: str) -> bool:
    """Whether this pytest has --disable-plugin-autoload (8.4 and later)."""
    try:
        major, minor = (int(part) for part in version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (8, 4)


def _rootdir(directory: str | Path) -> Path:
    """The function's directory: DIR itself, or the folder of a function.yaml or a cvat-sdk
    module given as a file; the current one for a module given by name."""
    path = Path(directory).resolve()
    if path.is_file():
        return path.parent
    return path if path.exists() else Path.cwd()


def run(args: argparse.Namespace) -> int:
    import pytest

    from harness.sdk import looks_like_sdk_ref  # a cvat-sdk module (harness/sdk)

    try:
        if not looks_like_sdk_ref(str(args.directory)):
            find_function_yaml(Path(args.directory))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    args.report_dir.mkdir(parents=True, exist_ok=True)
    arguments, plugins = pytest_invocation(args)
    code = int(pytest.main(arguments, plugins=plugins))
    verdict = "PASSED" if code == 0 else "FAILED"
    print(f"cvat-fn test: {verdict}; reports in {args.report_dir}/", file=sys.stderr)
    return code
