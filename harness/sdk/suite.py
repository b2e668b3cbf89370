"""``pytest --function func.py``: a cvat-sdk function through the built-in suite, plus the
SDK's own checks.

The module is described in a child process first (the ``sdk_module`` check: loadable, a
known spec type the SDK accepts); then it runs behind CVAT's Nuclio request format in a
scratch function directory (:func:`harness.sdk.export.write_function_dir`), so every check of
the built-in suite applies as to a Nuclio function. The Nuclio threshold checks give way to
``sdk_threshold`` (the SDK has no confidence field to require; ``score`` is optional).
cvat-fn.yaml is read from beside the module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from harness.nuclio.runners.scratch import ScratchDir
from harness.sdk import checks
from harness.sdk.export import FunctionRef, SdkError, describe, write_function_dir
from harness.suite.checks import CheckFailed
from harness.suite.session import CheckItem, FunctionSuite, FunctionUnderTest, Options

REPLACED = ("threshold", "threshold_monotone")


class SdkFunctionUnderTest(FunctionUnderTest):
    """One cvat-sdk module across the session, run from a scratch Nuclio directory."""

    def __init__(self, ref: FunctionRef, options: Options) -> None:
        self.ref = ref
        self.info: dict[str, Any] = {}
        self.sdk_problem: str | None = None
        self._scratch = ScratchDir("cvat-fn-sdk-")  # swept by the next run if this is killed
        directory = self._scratch.path / ref.name
        try:
            self.info = describe(ref)
            # on the host the module runs where it lies; in a container it is copied in
            in_place = options.runtime == "process"
            write_function_dir(ref, directory, self.info, harness=True, in_place=in_place)
        except SdkError as exc:
            self.sdk_problem = str(exc)
            directory.mkdir(parents=True, exist_ok=True)
        super().__init__(directory, options, config_from=ref.directory)
        self.name = ref.name
        self._probes: checks.SdkProbes | None = None

    def probes(self) -> checks.SdkProbes:
        if self._probes is None:
            self._probes = checks.SdkProbes(self.target(), self.info.get("spec", []))
        return self._probes

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            self._scratch.remove()


class SdkFunctionSuite(FunctionSuite):
    """The module file as a test file: sdk_module, the built-in suite, the SDK checks."""

    fut: SdkFunctionUnderTest

    def collect(self) -> Iterator[CheckItem]:
        fut = self.fut
        yield self._item("sdk_module", partial(_module, fut))
        if fut.sdk_problem:
            return
        for item in super().collect():
            if item.check not in REPLACED:
                yield item
        if fut.config is None or fut.problem:
            return
        examples = fut.options.examples
        probes = fut.probes
        if fut.kind == "detector":
            for fx in fut.config.fixtures:
                yield self._item(
                    "sdk_answer", partial(_run, checks.check_answer_rules, probes, fx), fx.name
                )
                yield self._item(
                    "sdk_mask_to_poly",
                    partial(_run, checks.check_mask_to_poly, probes, fx),
                    fx.name,
                )
                yield self._item(
                    "sdk_threshold",
                    partial(_run, checks.check_threshold_subset, probes, fx, examples),
                    fx.name,
                )
            yield self._item(
                "sdk_reads_threshold",
                partial(_run, checks.check_reads_threshold, probes, fut.config.fixtures),
            )
        elif fut.kind == "interactor":
            for fx in fut.config.fixtures:
                yield self._item(
                    "sdk_interact", partial(_run, checks.check_interaction, probes, fx), fx.name
                )
        elif fut.kind == "tracker":
            supported = list(fut.info.get("supported_shape_types") or ["rectangle"])
            for fx in fut.config.fixtures:
                yield self._item(
                    "sdk_track",
                    partial(_run, checks.check_tracking, probes, fx, supported),
                    fx.name,
                )


def _run(check: Callable[..., None], probes: Callable[[], checks.SdkProbes], *args: Any) -> None:
    """Start the function (on first use) and run an SDK check against its probes."""
    check(probes(), *args)


def _module(fut: SdkFunctionUnderTest) -> None:
    if fut.sdk_problem:
        raise CheckFailed(fut.sdk_problem)


def make_function(value: str, params: dict[str, Any], options: Options) -> tuple[Path, Any]:
    """(the path pytest collects, the function under test) for a ``--function`` value."""
    ref = FunctionRef(value, params)
    path = ref.path
    if path is None or not path.is_file():
        raise pytest.UsageError(f"--function {value}: no such file or importable module")
    return path, SdkFunctionUnderTest(ref, options)


SdkFunctionUnderTest.suite_class = SdkFunctionSuite  # type: ignore[attr-defined]
