"""The one readiness wait every runner uses: a deadline, a poll, the function's logs in the error.

Modelled on testcontainers' wait strategies: poll a probe until it holds, fail early when the
function has ended, and on timeout say what Nuclio says ("Function wasn't ready in time", from
pkg/platform/local/platform.go, waitForContainer) with the function's output attached.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import requests

from harness.nuclio.runners.base import StartError

NOT_READY = "Function wasn't ready in time"
POLL_S = 0.05


def wait_ready(
    probe: Callable[[], bool],
    *,
    timeout: float,
    logs: Callable[[], str] = lambda: "",
    ended: Callable[[], str | None] = lambda: None,
    poll: float = POLL_S,
    what: str | None = None,
) -> float:
    """Poll ``probe`` until it returns True; return the seconds it took.

    ``ended`` says why the function is gone (None while it runs): then waiting stops at once.
    Either way the StartError carries ``logs()``. ``timeout`` is the whole budget: it is never
    exceeded by more than one poll. ``what`` names a service that is not a Nuclio function
    (a database, say) for the timeout message, instead of Nuclio's words.
    """
    started = time.monotonic()
    deadline = started + timeout
    while True:
        if probe():
            return time.monotonic() - started
        gone = ended()
        if gone:
            raise StartError(f"{gone} before it was ready. Logs:\n{logs()}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            if what:
                raise StartError(f"{what} was not ready in {timeout:g}s. Logs:\n{logs()}")
            raise StartError(
                f"{NOT_READY} ({timeout:g}s, spec.readinessTimeoutSeconds). Logs:\n{logs()}"
            )
        time.sleep(min(poll, remaining))


def http_ok(url: str, session: requests.Session | None = None) -> Callable[[], bool]:
    """A probe: does GET ``url`` answer 200 (a health endpoint such as /ready)?"""
    http = session or requests.Session()

    def probe() -> bool:
        with contextlib.suppress(requests.RequestException):
            return http.get(url, timeout=1).status_code == 200
        return False

    return probe
