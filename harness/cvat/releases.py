"""The Nuclio each CVAT release ships, so that function.yaml is judged by the Nuclio that would
build it: a CVAT release's ``components/serverless/docker-compose.serverless.yml`` names its
dashboard image (``quay.io/nuclio/dashboard:X.Y.Z-amd64``), and that Nuclio builds and runs
the functions deployed to it.

Only releases whose file was read are listed. Between two of them a release ships a Nuclio
between theirs (CVAT only ever moved it forward), so a rule whose verdict differs inside that
range is reported as a warning that says so, never as an error."""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.cvat.findings import parse_version

Version = tuple[int, ...]

SHIPPED: tuple[tuple[tuple[int, int], str, bool, str], ...] = (
    ((2, 24), "1.13.0", True, "v2.24.0's file, as quoted in cvat-ai/cvat issue #8907"),
    # read on develop between v2.59.1 and the next release: 2.60 ships this or newer
    ((2, 60), "1.15.9", False, "develop after v2.59.1, commit 11eb1d62 (cvat-ai/cvat PR #10091)"),
    ((2, 73), "1.16.3", True, "v2.73.0's file"),
)
"""(CVAT release, Nuclio version, whether that release's own file says so or it is only the
lowest it can ship, where it was read), oldest first."""


def nuclio_version(text: str) -> Version:
    """``"1.14.1"`` -> ``(1, 14, 1)``."""
    if not re.fullmatch(r"\d+(\.\d+)*", text):
        raise ValueError(f"{text!r} is not a Nuclio version such as '1.16.3'")
    return tuple(int(part) for part in text.split("."))


@dataclass(frozen=True)
class NuclioRange:
    """The Nuclio a CVAT release ships: ``low`` to ``high`` (None: not bounded by a release
    read), equal when the release itself was read."""

    cvat: str
    low: str | None
    high: str | None

    def __str__(self) -> str:
        if self.low == self.high:
            return f"CVAT {self.cvat} ships Nuclio {self.low}"
        if self.low is None:
            return f"CVAT {self.cvat} ships Nuclio {self.high} or older"
        if self.high is None:
            return f"CVAT {self.cvat} ships Nuclio {self.low} or newer"
        return f"CVAT {self.cvat} ships a Nuclio from {self.low} to {self.high}"

    def at_least(self, version: str) -> bool | None:
        """True when every Nuclio in the range is ``version`` or newer, False when none is,
        None when the range straddles it."""
        wanted = nuclio_version(version)
        if self.low is not None and nuclio_version(self.low) >= wanted:
            return True
        if self.high is not None and nuclio_version(self.high) < wanted:
            return False
        return None


def shipped_nuclio(cvat_version: str) -> NuclioRange:
    """The Nuclio of a CVAT release (``"2.32"``, ``"v2.32.0"``), from the releases read."""
    wanted = parse_version(cvat_version)
    shown = "{}.{}".format(*wanted)
    low = high = None
    for release, nuclio, exact, _ in SHIPPED:
        if release <= wanted:
            low = nuclio
        if high is None and (release > wanted or (release == wanted and exact)):
            high = nuclio
    return NuclioRange(shown, low, high)
