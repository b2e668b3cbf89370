"""What a CVAT release needs is read from its source: the venv's recipe (cvat_venv.py: the Python
its numpy pin has wheels for, the datumaro fork it pins when its source lies beside CVAT's, pins
replaced) and the start's layout (layout.py). Small trees made here, shaped as CVAT 2.22.0's and
2.73.0's files are (quoted lines), so these run without CVAT's source or a server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cvat_server import cvat_venv, layout
from tests.cvat_server.source import SourceError, datumaro_fork, venv_key

FORK_2_22 = "e612d1bfb76a3c3d3d545187338c841a246619fb"
PIN_2_22 = f"datumaro @ git+https://github.com/cvat-ai/datumaro.git@{FORK_2_22}\n"
PIN_2_73 = (
    "datumaro @ https://github.com/cvat-ai/datumaro/archive/"
    "6ade96fa82043fc5bccd59a27218892899fe10ce.zip\n"
)


def tree(parent: Path, version: str, base: str, manifest: str, pin: str, base_py: str = "") -> Path:
    """A CVAT tree with the files the recipe and the layout read: VERSION, the requirement
    files (base.txt includes utils/dataset_manifest/requirements.txt, as in both releases)."""
    root = parent / f"cvat-{version}"
    (root / "cvat" / "requirements").mkdir(parents=True)
    (root / "cvat" / "settings").mkdir()
    (root / "utils" / "dataset_manifest").mkdir(parents=True)
    (root / "manage.py").write_text("")
    major, minor, patch = version.split(".")
    (root / "cvat" / "__init__.py").write_text(f'VERSION = ({major}, {minor}, {patch}, "final", 0)')
    requirements = root / "cvat" / "requirements"
    (requirements / "production.txt").write_text("-r base.txt\nuvicorn==0.22.0\n")
    (requirements / "base.txt").write_text(
        f"-r ../../utils/dataset_manifest/requirements.txt\n{pin}{base}"
    )
    (root / "utils" / "dataset_manifest" / "requirements.txt").write_text(manifest)
    (root / "cvat" / "settings" / "base.py").write_text(base_py)
    return root


def test_a_numpy_without_wheels_for_this_python_takes_an_older_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """numpy 1.22.4 (CVAT 2.22.0's utils/dataset_manifest/requirements.txt) has wheels up to
    CPython 3.10: with none found, the error names the pin and the Python wanted."""
    root = tree(tmp_path, "2.22.0", "", "av==9.2.0\nnumpy==1.22.4\n", PIN_2_22)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(SourceError) as raised:
        cvat_venv.recipe(root, root)
    assert str(raised.value).startswith(
        "CVAT 2.22.0 pins numpy==1.22.4, which has wheels for Python 3.10 at most, and no"
        " Python 3.10 was found"
    )


def test_a_python_found_in_pyenv_is_taken_as_the_base_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pyenv-like tree holding a ``python3.10`` that reports 3.10.13: it is taken (its real
    path, not a venv's), and the pin without a wheel is replaced."""
    root = tree(tmp_path, "2.22.0", "", "av==9.2.0\nnumpy==1.22.4\n", PIN_2_22)
    bin_dir = tmp_path / "pyenv" / "versions" / "3.10.13" / "bin"
    bin_dir.mkdir(parents=True)
    fake = bin_dir / "python3.10"
    fake.write_text(f"#!/bin/sh\necho {fake}\necho 3.10.13\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin") + os.pathsep + "/bin")
    plan = cvat_venv.recipe(root, root)
    assert (plan.interpreter, plan.version) == (str(fake), "3.10.13")
    assert plan.replaced == (("av==9.2.0", "av==12.0.0"),)
    assert plan.fork is None and "standing in" in plan.datumaro  # no fork beside this tree


def test_the_fork_beside_the_source_is_found_and_keys_the_venv(tmp_path: Path) -> None:
    """datumaro-cvat-fork-<commit[:8]>.tar.gz beside CVAT's archive is the fork its
    requirements pin; a venv with the fork is another venv than one with the stand-in."""
    root = tree(tmp_path, "2.73.0", "", "numpy==2.2.6\n", PIN_2_22)
    archive = tmp_path / "cvat-2.73.0-server.tar.gz"
    archive.write_bytes(b"")
    assert datumaro_fork(archive, FORK_2_22) is None
    fork = tmp_path / f"datumaro-cvat-fork-{FORK_2_22[:8]}.tar.gz"
    fork.write_bytes(b"")
    assert datumaro_fork(archive, FORK_2_22) == fork
    plan = cvat_venv.recipe(root, archive)
    assert plan.fork == fork and plan.datumaro == f"cvat-ai/datumaro fork {FORK_2_22[:8]}"
    with_fork = venv_key(root, plan.interpreter, plan.version, plan.extra)
    assert with_fork != venv_key(root, plan.interpreter, plan.version)


def test_a_release_with_nothing_to_change_keeps_its_cache_key(tmp_path: Path) -> None:
    """CVAT 2.73.0's pins (numpy 2.2.6, av 16.0.1, a fork not here): the tests' own Python, no
    replacement, the stand-in: the key is the one venvs built before the recipe had."""
    root = tree(tmp_path, "2.73.0", "", "av==16.0.1\nnumpy==2.2.6\n", PIN_2_73)
    plan = cvat_venv.recipe(root, root)
    assert plan.interpreter == cvat_venv.base_interpreter() and plan.extra == ""


BASE_2_22 = """
class CVAT_QUEUES(Enum):
    IMPORT_DATA = 'import'
    AUTO_ANNOTATION = 'annotation'
IAM_OPA_HOST = 'http://opa:8181'
BASE_DIR = str(Path(__file__).parents[2])
"""
BASE_2_73 = """
BASE_DIR = Path(os.environ.get("CVAT_BASE_DIR", Path(__file__).parents[2]))
class CVAT_QUEUES(Enum):
    IMPORT_DATA = "import"
    AUTO_ANNOTATION = "annotation"
    CHUNKS = "chunks"
IAM_OPA_URL = os.getenv("CVAT_OPA_URL", "http://opa:8181")
"""


def test_the_layout_follows_the_settings_and_commands_a_release_has(tmp_path: Path) -> None:
    old = tree(tmp_path, "2.22.0", "", "", PIN_2_22, BASE_2_22)
    commands = old / "cvat" / "apps" / "engine" / "management" / "commands"
    commands.mkdir(parents=True)
    (commands / "syncperiodicjobs.py").write_text("")
    found = layout.read(old)
    assert found == layout.Layout(False, False, ("syncperiodicjobs",), ("import", "annotation"))
    settings = tmp_path / "settings"
    settings.mkdir()
    assert found.settings(settings) == layout.SETTINGS_MODULE
    assert "IAM_OPA_DATA_URL" in (settings / f"{layout.SETTINGS_MODULE}.py").read_text()

    new = tree(tmp_path, "2.73.0", "", "", PIN_2_73, BASE_2_73)
    found = layout.read(new)
    assert found == layout.Layout(True, True, (), ("import", "annotation", "chunks"))
    assert found.settings(settings) == "cvat.settings.production"
