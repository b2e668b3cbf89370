"""One way to add a subcommand: a module of harness/commands with ``register(sub)``, named in
``harness.commands.COMMANDS``; harness/cli.py only walks that list."""

from __future__ import annotations

import argparse
import ast
import pkgutil
from pathlib import Path

import pytest

import harness.commands
from harness.cli import build_parser, main
from harness.commands import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
COMMANDS_DIR = ROOT / "harness" / "commands"
CLI = ROOT / "harness" / "cli.py"

IN_HELP_ORDER = [
    "lint",
    "invoke",
    "serve",
    "test",
    "build",
    "new",
    "pin",
    "verdict",
    "eval",
    "dashboard",
    "fixtures",
    "export-nuclio",
]
"""What a user sees in ``cvat-fn --help``, in that order: moving code must not change it."""


def add_parser_calls(path: Path) -> list[str]:
    """The subcommand names a module's source passes to ``add_parser``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else "?"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "add_parser"
    ]


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_module_that_adds_a_subcommand_is_in_the_registry() -> None:
    modules = sorted(m.name for m in pkgutil.iter_modules(harness.commands.__path__))
    adding = {name for name in modules if add_parser_calls(COMMANDS_DIR / f"{name}.py")}
    assert adding == set(COMMANDS)
    assert len(COMMANDS) == len(set(COMMANDS))


def test_each_registered_module_adds_one_subcommand_through_register() -> None:
    for name in COMMANDS:
        source = COMMANDS_DIR / f"{name}.py"
        assert len(add_parser_calls(source)) == 1, f"{name}: one subcommand per module"
        tree = ast.parse(source.read_text(encoding="utf-8"))
        [register] = [
            n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "register"
        ]
        assert [a.arg for a in register.args.args] == ["sub"], name
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers(dest="command")
        module = __import__(f"harness.commands.{name}", fromlist=["register"])
        module.register(sub)
        [(added, subparser)] = subcommands(parser).items()
        assert callable(subparser.get_default("run")), f"{added}: set_defaults(run=...)"


def test_nothing_else_in_harness_adds_a_subcommand() -> None:
    """cli.py and the other rooms only assemble or serve the commands."""
    outside = [
        f"{path.relative_to(ROOT)}: {names}"
        for path in sorted((ROOT / "harness").rglob("*.py"))
        if path.parent != COMMANDS_DIR and (names := add_parser_calls(path))
    ]
    assert not outside


def test_the_cli_only_assembles() -> None:
    lines = CLI.read_text(encoding="utf-8").splitlines()
    assert len(lines) < 80
    defined = [
        n.name
        for n in ast.parse("\n".join(lines)).body
        if isinstance(n, ast.FunctionDef | ast.ClassDef)
    ]
    assert defined == ["build_parser", "main"]


def test_the_subcommands_in_help_order() -> None:
    assert list(subcommands(build_parser())) == IN_HELP_ORDER


@pytest.mark.parametrize("command", IN_HELP_ORDER)
def test_the_help_of_every_subcommand_is_reachable(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: cvat-fn {command} ")
