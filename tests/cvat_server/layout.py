"""What differs between CVAT releases in starting one, read from the release's own source rather
than from its version number, so a release in between is started by what it holds:

- where CVAT keeps its data: ``CVAT_BASE_DIR`` where ``cvat/settings/base.py`` reads it (2.73),
  else the source tree itself (``BASE_DIR = Path(__file__).parents[2]``; ``data/``, ``keys/``,
  ``logs/`` under it: 2.22), so the server's working directory is that tree;
- how CVAT finds OPA: ``CVAT_OPA_URL`` where base.py reads it (2.73), else a settings module of
  our own that sets ``IAM_OPA_HOST`` and ``IAM_OPA_DATA_URL`` over ``cvat.settings.production``
  (2.22 fixes ``IAM_OPA_HOST = 'http://opa:8181'``; its development.py overrides it the same way);
- the setup commands the release has (``migrateredis``, ``syncperiodicjobs``: a management
  command of that name under ``cvat/apps/*/management/commands/``);
- the rq queues the worker serves: those of ``import``, ``annotation`` and ``chunks`` that
  base.py's ``CVAT_QUEUES`` declares (2.22 has no ``chunks``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SETUP_COMMANDS = ("migrateredis", "syncperiodicjobs")
QUEUES = ("import", "annotation", "chunks")  # task creation, auto-annotation, chunks
SETTINGS_MODULE = "cvat_fn_settings"
SETTINGS = """# Written by cvat-fn's tests: CVAT's production settings, OPA at CVAT_OPA_URL.
import os

from cvat.settings.production import *  # noqa: F403

IAM_OPA_HOST = os.environ["CVAT_OPA_URL"]
IAM_OPA_DATA_URL = f"{IAM_OPA_HOST}/v1/data"
"""


@dataclass(frozen=True)
class Layout:
    reads_base_dir: bool
    reads_opa_url: bool
    commands: tuple[str, ...]
    queues: tuple[str, ...]

    def settings(self, directory: Path) -> str:
        """DJANGO_SETTINGS_MODULE; where CVAT does not read CVAT_OPA_URL, the module that sets
        the OPA address is written into ``directory`` (which goes on PYTHONPATH)."""
        if self.reads_opa_url:
            return "cvat.settings.production"
        (directory / f"{SETTINGS_MODULE}.py").write_text(SETTINGS, encoding="utf-8")
        return SETTINGS_MODULE


def read(root: Path) -> Layout:
    base = (root / "cvat" / "settings" / "base.py").read_text(encoding="utf-8")
    commands = tuple(
        name
        for name in SETUP_COMMANDS
        if any(root.glob(f"cvat/apps/*/management/commands/{name}.py"))
    )
    queues = tuple(q for q in QUEUES if re.search(rf"""^\s+\w+ = ["']{q}["']""", base, re.M))
    return Layout(
        reads_base_dir="CVAT_BASE_DIR" in base,
        reads_opa_url="CVAT_OPA_URL" in base,
        commands=commands,
        queues=queues,
    )
