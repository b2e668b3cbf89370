"""Stops what runners started when the run ends by exit, exception, Ctrl-C or SIGTERM.

Runners register a stop callback per started function and unregister it on a normal stop.
SIGINT keeps Python's default (KeyboardInterrupt unwinds, finalizers and atexit run); SIGTERM,
which would end the process without either, is turned into the same cleanup, then re-delivered.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

_callbacks: dict[int, Callable[[], None]] = {}
_lock = threading.Lock()
_ids = itertools.count()
_installed = False


def run_all() -> None:
    """Run and forget every registered callback (newest first); errors are swallowed."""
    with _lock:
        pending = list(_callbacks.items())
        _callbacks.clear()
    for _, callback in reversed(pending):
        with contextlib.suppress(Exception):
            callback()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    run_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(run_all)
    if threading.current_thread() is threading.main_thread():
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                signal.signal(signal.SIGTERM, _on_sigterm)


def register(callback: Callable[[], None]) -> int:
    """Remember a stop callback; returns the token that unregister takes."""
    _install()
    token = next(_ids)
    with _lock:
        _callbacks[token] = callback
    return token


def unregister(token: int) -> None:
    with _lock:
        _callbacks.pop(token, None)
