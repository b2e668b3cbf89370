"""``pytest --function DIR`` and ``--function=DIR`` settle the same rootdir and ini file.

pytest picks its rootdir and ini file from the test paths on the command line before any
plugin's options are known, so in ``--function DIR`` (a space) DIR is taken for a test path:
the rootdir becomes DIR and an ini file in DIR wins over the project's. Once the options are
known (``pytest_load_initial_conftests``) they are settled again without DIR. Whatever the
wrong ini file already did (its ``addopts``, ``pythonpath``) cannot be undone: a warning says
so and names the form that avoids it.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest


def resettle(config: pytest.Config) -> None:
    """Re-determine rootdir and ini file without the ``--function`` directories."""
    namespace = config.known_args_namespace
    directories = getattr(namespace, "function", None) or []
    if not directories:
        return
    try:
        from _pytest.config.findpaths import determine_setup

        wanted: dict[str, Any] = {
            "inifile": namespace.inifilename,
            "override_ini": namespace.override_ini,
            "args": list(namespace.file_or_dir),
            "rootdir_cmd_arg": namespace.rootdir or None,
            "invocation_dir": config.invocation_params.dir,
        }
        accepted = inspect.signature(determine_setup).parameters
        found = determine_setup(**{k: v for k, v in wanted.items() if k in accepted})
    except Exception:  # pytest's private API changed: the warning below still tells
        found = None
    old_root, old_ini = config.rootpath, config.inipath
    if found is not None and (found[0], found[1]) == (old_root, old_ini):
        return
    if found is None or not _replace(config, found):
        _warn(config, directories, "its rootdir and ini file may be taken from DIR")
        return
    root, ini = found[0], found[1]
    derived_cut = str(old_ini.parent) if old_ini is not None else str(old_root)
    if namespace.confcutdir == derived_cut:  # set by pytest from the old ones, not given
        namespace.confcutdir = str(ini.parent) if ini is not None else str(root)
    if ini != old_ini and _ini_did_something(old_ini, ini):
        _warn(
            config,
            directories,
            f"pytest read {old_ini or 'no ini file'} (found from DIR) before cvat-fn could"
            f" settle it; --function=DIR reads {ini or 'no ini file'} instead, and addopts,"
            " pythonpath and minversion come from the one read first",
        )


def _replace(config: pytest.Config, found: tuple[Any, ...]) -> bool:
    """Put the settled rootdir and ini file in place; False where pytest's internals differ."""
    cfg: Any = config
    inicfg_name = "_inicfg" if hasattr(cfg, "_inicfg") else "inicfg"
    if not (hasattr(cfg, "_rootpath") and hasattr(cfg, "_inipath") and hasattr(cfg, inicfg_name)):
        return False
    cfg._rootpath, cfg._inipath = found[0], found[1]
    setattr(cfg, inicfg_name, found[2])
    if len(found) > 3 and hasattr(cfg, "_ignored_config_files"):
        cfg._ignored_config_files = found[3]
    if hasattr(cfg, "_inicache"):
        cfg._inicache.clear()
    cfg._parser.extra_info["rootdir"] = str(found[0])
    cfg._parser.extra_info["inifile"] = str(found[1])
    return True


def _ini_did_something(*paths: Path | None) -> bool:
    """Whether either ini file sets what pytest applies before plugins load."""
    early = ("addopts", "pythonpath", "minversion", "required_plugins")
    return any(
        path is not None and any(key in path.read_text(errors="replace") for key in early)
        for path in paths
    )


def _warn(config: pytest.Config, directories: list[str], what: str) -> None:
    shown = directories[0]
    config.issue_config_time_warning(
        pytest.PytestConfigWarning(
            f"--function {shown}: {what}; write --function={shown} to avoid it"
        ),
        stacklevel=2,
    )
