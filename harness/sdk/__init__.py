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
