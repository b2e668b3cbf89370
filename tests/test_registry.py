"""The test registry itself: it answers the registry API, and leaves nothing behind."""

from __future__ import annotations

import glob
import tempfile
from pathlib import Path

import pytest
import requests
from registry import local_registry, registry_unavailable, tags


@pytest.mark.skipif(registry_unavailable() is not None, reason=str(registry_unavailable()))
def test_registry_answers_and_is_removed_on_stop() -> None:
    before = set(glob.glob(str(Path(tempfile.gettempdir()) / "cvat-fn-registry-*")))
    with local_registry() as address:
        assert address.startswith("127.0.0.1:")
        assert requests.get(f"http://{address}/v2/_catalog", timeout=5).json() == {
            "repositories": []
        }
        assert tags(address, "nothing/here") == []
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{address}/v2/", timeout=2)
    after = set(glob.glob(str(Path(tempfile.gettempdir()) / "cvat-fn-registry-*")))
    assert after == before
