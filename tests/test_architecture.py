"""ARCHITECTURE.md against the tree: the rooms it draws are the packages there are, a short
list at the top of harness/, and every module it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "harness"
NOTE = ROOT / "ARCHITECTURE.md"
LISTED_ROOMS = ("nuclio", "cvat", "suite", "output")  # the rooms whose modules the tree names


def drawn_tree() -> str:
    """The first fenced block of the note: the tree of harness/."""
    match = re.search(r"```\n(harness/\n.*?)```", NOTE.read_text(encoding="utf-8"), re.S)
    assert match, "ARCHITECTURE.md has no tree of harness/ in a fenced block"
    return match.group(1)


def entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != "__pycache__")


def test_the_top_of_harness_is_a_short_list_and_the_note_draws_each_entry() -> None:
    top = entries(PACKAGE)
    assert len(top) <= 10, top
    drawn = {m.group(1) for m in re.finditer(r"^  (\S+?)/?(?:\s|$)", drawn_tree(), re.M)}
    assert drawn == {name.removesuffix("/") for name in top}


def test_every_package_of_harness_is_drawn() -> None:
    tree = drawn_tree()
    packages = sorted(
        p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("__init__.py")
        if p.parent != PACKAGE
    )
    for package in (Path(p).parent.as_posix() for p in packages):
        assert re.search(rf"\b{re.escape(Path(package).name)}/", tree), package
    assert "templates/" in tree


def test_the_modules_the_note_names_exist_and_the_listed_rooms_name_all_theirs() -> None:
    tree = drawn_tree()
    named = set(re.findall(r"\b(\w+\.py)\b", tree))
    existing = {p.name for p in PACKAGE.rglob("*.py") if "templates" not in p.parts}
    assert named - existing == set(), "named in ARCHITECTURE.md, not in harness/"
    for room in LISTED_ROOMS:
        modules = {p.name for p in (PACKAGE / room).glob("*.py") if p.name != "__init__.py"}
        assert modules - named == set(), f"harness/{room}/ modules missing from the note"
