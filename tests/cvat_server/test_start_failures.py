"""A start that cannot succeed says which service failed and quotes its log, in one error, and
leaves nothing behind."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

import tests.cvat_server.requires_source  # noqa: F401  (skips without CVAT_SOURCE)
from harness.nuclio.runners import labels
from tests.cvat_server import server
from tests.cvat_server.source import SourceError, configured, unpack


def my_scratch_dirs() -> set[Path]:
    mine = set()
    for path in Path(tempfile.gettempdir()).glob(server.SCRATCH_PREFIX + "*"):
        try:
            owner = json.loads((path / ".cvat-fn-owner.json").read_text())
        except (OSError, ValueError):
            continue
        if owner.get(labels.PID) == str(os.getpid()):
            mine.add(path)
    return mine


def test_a_source_that_is_not_cvat_is_named_in_one_line(tmp_path: Path) -> None:
    before = my_scratch_dirs()
    with pytest.raises(SourceError) as raised:
        server.start(tmp_path)
    assert str(raised.value) == (
        f"CVAT_SOURCE={tmp_path}: no manage.py and cvat/requirements/: not CVAT's source"
    )
    assert my_scratch_dirs() == before


def test_a_service_that_fails_is_named_with_its_log_tail(tmp_path: Path) -> None:
    """CVAT's policies with a syntax error: the OPA endpoint cannot load them."""
    source = configured()
    assert source
    root = unpack(source, tmp_path) if not Path(source).is_dir() else Path(source)
    broken = tmp_path / "broken"
    shutil.copytree(root, broken)
    rules = broken / "cvat" / "apps" / "engine" / "rules" / "tasks.rego"
    rules.write_text(rules.read_text() + "\nallow if {{{ this is not rego\n")
    before = my_scratch_dirs()

    with pytest.raises(server.CvatStartError) as raised:
        server.start(broken, log=lambda message: None)

    message = str(raised.value)
    assert message.startswith("CVAT opa exited (code 1) before it was ready; opa.log:\n")
    assert "tasks.rego" in message  # regorus's parse error, from the log's tail
    assert my_scratch_dirs() == before
