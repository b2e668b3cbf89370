"""Imported first by every test module in tests/cvat_server: without ``CVAT_SOURCE`` the module
is skipped from this one line, so however many modules there are, ``pytest -rs`` shows one
reason line naming CVAT_SOURCE. (A skip in the conftest would break ``pytest tests/cvat_server``;
one in a fixture or a marker is reported once per test or per module.)"""

import pytest

from tests.cvat_server.source import ENV, configured

SKIP_REASON = f"{ENV} is not set (CVAT's server source, a directory or .tar.gz, to test against)"

if not configured():
    pytest.skip(SKIP_REASON, allow_module_level=True)
