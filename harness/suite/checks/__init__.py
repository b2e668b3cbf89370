"""The suite's assertions. Each sees a Target (a URL and what it answered), never a runner."""

from __future__ import annotations


class CheckFailed(AssertionError):
    """A check found the function wrong; the message is the whole report, no traceback needed."""


class NotApplicable(Exception):
    """The check has nothing to judge here (e.g. no expectations); reported as a skip."""


class CheckWarning(UserWarning):
    """Worth knowing, not a failure: pytest's warnings summary shows it under the check's item
    (e.g. a function whose shapes carry a confidence only some of the time)."""
