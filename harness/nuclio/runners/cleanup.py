"""Stop what a runner started when the process ends: normally, on Ctrl-C, or on SIGTERM.

A runner registers a stop callback when it starts something (``token = register(stop)``)
and unregisters it in ``stop`` (``unregister(token)``). Pending callbacks run at exit
(atexit) and from SIGINT/SIGTERM/SIGHUP handlers, which then carry on with what the signal
did before (KeyboardInterrupt, the previous handler, or termination by the signal). Only
``kill -9`` escapes; the watchdog (``watchdog.py``) handles that case within seconds.
"""

from __future__ import annotations

import atexit
import itertools
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from types import FrameType

_SIGNALS = tuple(
    s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None
)

_lock = threading.RLock()  # re-entrant: a signal handler may run while the main thread holds it
_callbacks: dict[int, Callable[[], object]] = {}
_ids = itertools.count(1)
_previous: dict[int, object] = {}
_installed = False


def register(callback: Callable[[], object]) -> int:
    """Run ``callback`` when the process ends; returns a token for :func:`unregister`."""
    _install()
    with _lock:
        token = next(_ids)
        _callbacks[token] = callback
    return token


def unregister(token: int) -> None:
    """Forget a callback (its owner stopped what it started); unknown tokens are ignored."""
    with _lock:
        _callbacks.pop(token, None)


def run_all() -> None:
    """Run every pending callback once, newest first; one failing does not stop the others."""
    while True:
        with _lock:
            if not _callbacks:
                return
            key = max(_callbacks)
            callback = _callbacks.pop(key)
        try:
            callback()
        except Exception:
            print("cvat-fn: cleanup failed:", file=sys.stderr)
            traceback.print_exc()


def _handle(signum: int, frame: FrameType | None) -> None:
    run_all()
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)  # default_int_handler raises KeyboardInterrupt
    elif previous == signal.SIG_IGN:
        return
    else:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    atexit.register(run_all)
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread; atexit still holds
    for signum in _SIGNALS:
        previous = signal.getsignal(signum)
        if previous is None or previous == signal.SIG_IGN:
            continue  # installed from C, or deliberately ignored (nohup): leave it be
        _previous[signum] = previous
        signal.signal(signum, _handle)
