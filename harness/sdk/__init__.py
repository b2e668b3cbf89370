"""cvat-sdk auto-annotation functions (``cvat_sdk.auto_annotation``) under cvat-fn.

Such a function is a module with ``spec`` and ``detect`` (or ``init_tracking_state`` and
``track``), or with a ``create(**params)`` factory. cvat-fn runs it behind CVAT's Nuclio
request format (:mod:`harness.sdk.nuclio_main`), so the built-in suite applies unchanged,
and adds the SDK's own rules (:mod:`harness.sdk.rules`) as extra checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

_MODULE = re.compile(r"^[A-Za-z_][\w.]*(:create)?$")
EXTRA_HINT = "cvat-sdk functions need cvat-fn's sdk extra: pip install 'cvat-fn[sdk]'"


def looks_like_sdk_ref(text: str) -> bool:
    """Is a ``--function`` value a cvat-sdk module (``func.py``, ``pkg.module``,
    ``module:create``) rather than a Nuclio function directory?"""
    if text.endswith(".py"):
        return True
    return not Path(text).exists() and bool(_MODULE.match(text)) and ("." in text or ":" in text)


def require_sdk() -> None:
    """ImportError with the way out when cvat-sdk is not installed."""
    try:
        import cvat_sdk.auto_annotation  # noqa: F401
    except ImportError:
        raise ImportError(EXTRA_HINT) from None


class SdkUnavailable(ValueError):
    """No cvat-sdk, or a module that does not load; the message is one line saying why."""


def scratch_directory(text: str, params: list[str]) -> tuple[Path, Any]:
    """A cvat-sdk module (``func.py``, ``module:create``) as a scratch Nuclio directory that
    runs it, for invoke, serve and the dashboard: the directory and its ScratchDir to remove."""
    try:
        require_sdk()
    except ImportError as exc:
        raise SdkUnavailable(str(exc)) from None
    from harness.sdk.export import SdkError, scratch_function

    try:
        return scratch_function(text, params)
    except (ImportError, SdkError) as exc:
        raise SdkUnavailable(str(exc).splitlines()[0]) from None


def add_parameter_option(add: Callable[..., Any], *flags: str, given: str = "") -> None:
    """``--function-parameter NAME=TYPE:VALUE`` (cvat-cli's ``-p``), declared once for
    export-nuclio, invoke, serve and pytest; ``add`` is add_argument or pytest's addoption,
    ``flags`` any short form, ``given`` what the parameter goes to."""
    add(
        *flags,
        "--function-parameter",
        action="append",
        default=[],
        metavar="NAME=TYPE:VALUE",
        help=f"{given}a create() parameter, as cvat-cli's -p (TYPE int, float, str or bool);"
        " repeatable",
    )
