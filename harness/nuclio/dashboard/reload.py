"""``--reload``: restart a served function when its files change (watchfiles).

One watcher thread for every function's directory; a change restarts only the function(s)
whose directory holds it, one at a time, while requests for it wait (registry ``acquire``).
The record directory and the json log are never watched, or every request would restart.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from harness.nuclio.dashboard.registry import ERROR, Registry, ServedFunction

EXTRA_HINT = "--reload needs watchfiles: pip install 'cvat-fn[dashboard]'"


def _real(path: str | Path) -> Path:
    """``path`` with links resolved; a link that loops stays as it is (Path.resolve raises
    on one, which would end the watcher for good)."""
    return Path(os.path.realpath(path))


def _inside(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents


class Reloader:
    """Watches the functions' directories until :meth:`stop`."""

    def __init__(
        self, registry: Registry, ignored: Iterable[Path], say: Callable[[str], None]
    ) -> None:
        import watchfiles  # the dashboard extra; checked by the command first

        self.registry = registry
        self.ignored = [_real(p) for p in ignored]
        self.say = say
        self._stop = threading.Event()
        self._filter = watchfiles.DefaultFilter()
        self._thread = threading.Thread(target=self._run, name="reload", daemon=True)

    def roots(self) -> list[Path]:
        found = {fn.watched for fn in self.registry.functions if fn.watched is not None}
        return sorted(p for p in found if p.is_dir())

    def start(self) -> None:
        self._thread.start()

    def _wanted(self, change: object, path: str) -> bool:
        resolved = _real(path)
        if any(_inside(resolved, ignored) for ignored in self.ignored):
            return False
        return bool(self._filter(change, path))  # type: ignore[arg-type]

    def _run(self) -> None:
        import watchfiles

        roots = self.roots()
        if not roots:
            return
        for changes in watchfiles.watch(
            *roots,
            watch_filter=self._wanted,
            debounce=400,
            step=50,
            stop_event=self._stop,
            raise_interrupt=False,
        ):
            changed = sorted({_real(path) for _, path in changes})
            for fn in self.registry.functions:
                if fn.watched is None:
                    continue
                mine = [p for p in changed if _inside(p, fn.watched)]
                if mine:
                    self.restart(fn, mine)

    def restart(self, fn: ServedFunction, changed: list[Path]) -> None:
        assert fn.watched is not None
        shown = [p for p in changed if p.exists()] or changed  # not an editor's temp file
        names = ", ".join(str(p.relative_to(fn.watched)) for p in shown[:3])
        more = f" and {len(shown) - 3} more" if len(shown) > 3 else ""
        was_listed = fn.listed
        fn.hold()  # before saying so: a request sent after the line below waits for the restart
        self.say(f"{names}{more} changed: restarting {fn.name} ...")
        fn.restart()
        if fn.unlisted:
            self.say(f"{fn.name}: not listed for CVAT: {fn.unlisted}")
        elif fn.state == ERROR:
            self.say(f"{fn.name}: did not start (answers 503): {fn.message}")
        else:
            seconds = fn.running.ready_seconds if fn.running else 0.0
            again = "again " if was_listed else "(now listed) "
            self.say(f"{fn.name}: ready {again}in {seconds:.2f} s")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
