"""The function under test for one pytest session: read once, started lazily once, stopped
at the end; and the built-in suite's collector and items, one item per check."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from harness.cvat.lint import lint_directory
from harness.nuclio.runners import Runner, RunningFunction, StartError, make_runner
from harness.nuclio.runners.scratch import ScratchDir
from harness.nuclio.spec import FunctionSpec, SpecError, function_directory, load_spec
from harness.suite.checks import CheckFailed, NotApplicable
from harness.suite.checks.accuracy import check_accuracy
from harness.suite.checks.concurrency import check_concurrency
from harness.suite.checks.geometry import check_geometry, geometry_key, plan_views, send_view
from harness.suite.checks.latency import check_first_request, check_ready, check_warm
from harness.suite.checks.robustness import check_robustness, robustness_calls
from harness.suite.checks.schema import check_answered, check_category
from harness.suite.checks.target import Target
from harness.suite.checks.threshold import check_monotone, check_respected, thresholds_read
from harness.suite.config import (
    Budgets,
    ConfigError,
    Fixture,
    Minimums,
    SuiteConfig,
    check_kind,
    load_config,
)
from harness.suite.defaults import default_fixtures

STOP_STARTING_S = 60.0  # at most this long for a start in the background to end when stopped

Need = tuple[Fixture, float | None]
"""An answer a check reads: a fixture's (None) or the fixture's at a threshold."""


@dataclass
class Options:
    runtime: str = "process"
    url: str | None = None
    base_image: str | None = None
    runner: dict[str, Any] = field(default_factory=dict)  # runners/options.py's runner_kwargs
    examples: int = 10
    readiness_timeout: float | None = None
    budgets: dict[str, float] = field(default_factory=dict)
    minimums: dict[str, float] = field(default_factory=dict)
    dataset: Any = None
    """``--dataset``: a harness.eval.check.DatasetOptions, or None."""
    cvat_version: str | None = None  # --cvat-version, over cvat-fn.yaml's


class FunctionUnderTest:
    """One ``--function`` directory across the session."""

    def __init__(self, directory: Path, options: Options, config_from: Path | None = None) -> None:
        """``config_from``: where cvat-fn.yaml is read (default: the function directory)."""
        self.given = directory.resolve()  # the directory, or a function*.yaml in it
        self.directory = function_directory(self.given)
        self.options = options
        self.name = self.directory.name
        self.remote = False  # deployed: only its function.yaml is here, from the dashboard
        self.spec: FunctionSpec | None = None
        self.config: SuiteConfig | None = None
        self.problem: str | None = None
        self.start_error: str | None = None
        self._running: RunningFunction | None = None
        self._target: Target | None = None
        self._starting: threading.Thread | None = None  # start_soon's
        self._start_failure: BaseException | None = None
        self._start_reported = False
        self.planned: list[Need] = []  # what the selected items read
        self.preparations: list[tuple[Hashable, Callable[[], Any]]] = []
        self._tmp = ScratchDir("cvat-fn-fixtures-")  # swept by the next run if this is killed
        self.started_at = time.strftime("%Y-%m-%d %H:%M:%S")
        try:
            self.spec = load_spec(self.given)
        except SpecError as exc:
            self.problem = str(exc)
            return
        try:
            self.config = load_config(config_from or self.directory)
            check_kind(self.config, self.kind)
        except ConfigError as exc:
            self.problem = str(exc)
            return
        _override(self.config.budgets, options.budgets, "budget")
        _override(self.config.minimums, options.minimums, "minimum")
        if options.cvat_version:
            self.config.cvat_version = options.cvat_version
        if not self.config.fixtures:
            self.config.fixtures = default_fixtures(self.kind, self._tmp.path)

    @property
    def kind(self) -> str:
        return (self.spec.kind if self.spec else None) or "detector"

    @property
    def categories(self) -> tuple[str, ...]:
        """The answer checks run on each fixture: attributes and skeleton only for a detector
        that declares some (otherwise their findings fall to schema)."""
        names = ["schema", "labels", "coordinates"]
        if self.kind == "detector" and self.spec is not None:
            labels = [*self.spec.labels, *(s for la in self.spec.labels for s in la.sublabels)]
            if any(label.attributes for label in labels):
                names.append("attributes")
            if any(label.type == "skeleton" for label in self.spec.labels):
                names.append("skeleton")
        return tuple(names)

    def runner(self) -> Runner:
        return make_runner(
            self.options.runtime,
            url=self.options.url,
            base_image=self.options.base_image,
            **self.options.runner,
        )

    def start_soon(self) -> None:
        """Start the function in the background, so that its start overlaps what pytest does
        before the first check that needs it (planning the requests, lint); target() waits."""
        if self._starting is not None or self._running is not None or self.start_error:
            return
        if self.spec is not None and self.config is not None:
            self._starting = threading.Thread(
                target=self._start, name=f"cvat-fn-start-{self.name}", daemon=True
            )
            self._starting.start()

    def _start(self) -> None:
        assert self.spec is not None
        # Nuclio waits readinessTimeoutSeconds and not a second longer (the ready_s budget is
        # judged separately, by the ready check).
        timeout = self.options.readiness_timeout or self.spec.readiness_timeout
        try:
            self._running = self.runner().start(
                self.directory, self.spec, readiness_timeout=timeout
            )
        except StartError as exc:
            self.start_error = str(exc)
        except BaseException as exc:  # raised by target(), in the check that needs it
            self._start_failure = exc

    def target(self) -> Target:
        """Start the function on first use (or wait for start_soon's start); later calls get
        the same one. The first check to need a function that did not start fails, the rest
        are skipped."""
        if self._target is not None:
            return self._target
        if self.start_error is not None and self._start_reported:
            pytest.skip("the function did not start (see its starts check)")
        assert self.spec is not None and self.config is not None
        if self._starting is not None:
            self._starting.join()
            self._starting = None
        elif self._running is None and self.start_error is None:
            self._start()
        if self._start_failure is not None:
            failure, self._start_failure = self._start_failure, None
            raise failure
        if self.start_error is not None:
            self._start_reported = True
            raise CheckFailed(f"the function did not start:\n{self.start_error}")
        assert self._running is not None
        self._target = Target(
            url=self._running.url,
            spec=self.spec,
            config=self.config,
            fixtures=self.config.fixtures,
            ready_seconds=self._running.ready_seconds,
            logs=self._running.logs if self._running.captures_logs else None,
            planned=list(self.planned),
            preparations=list(self.preparations),
        )
        return self._target

    def starts(self) -> Target:
        """The starts check: fails with the start error even when a test of the author's
        (through the cvat_function fixture) tried to start the function first."""
        if self.start_error is not None and self._starting is None:
            self._start_reported = True
            raise CheckFailed(f"the function did not start:\n{self.start_error}")
        return self.target()

    @property
    def running(self) -> RunningFunction | None:
        return self._running

    @property
    def current_target(self) -> Target | None:
        """The target if the function was started, without starting it."""
        return self._target

    def log_lines(self) -> list[str]:
        return self._running.logs.lines() if self._running else []

    def stop(self) -> None:
        if self._starting is not None:  # stopped (Ctrl-C) while starting in the background
            self._starting.join(STOP_STARTING_S)
        if self._target is not None:
            self._target.close()
        if self._running is not None:
            self._running.stop()
        self._tmp.remove()


def _override(target: Budgets | Minimums, values: dict[str, float], what: str) -> None:
    """Command-line budgets and minimums, held to the same rules as cvat-fn.yaml's."""
    for key, value in values.items():
        if not hasattr(target, key):
            known = ", ".join(vars(target))
            raise pytest.UsageError(f"--{what} {key}: unknown (known: {known})")
        if value < 0 or (what == "minimum" and value > 1):
            limit = "between 0 and 1" if what == "minimum" else "at least 0"
            raise pytest.UsageError(f"--{what} {key}={value:g}: must be {limit}")
        if key == "warm_requests" and (value < 1 or value != int(value)):
            raise pytest.UsageError(f"--{what} {key}={value:g}: must be a whole number, at least 1")
        setattr(target, key, int(value) if key == "warm_requests" else value)


class CheckItem(pytest.Item):
    """One check of the built-in suite; its failure text is the check's own report."""

    def __init__(
        self,
        *,
        fut: FunctionUnderTest,
        check: str,
        fixture: str | None,
        run: Callable[[], Any],
        needs: Callable[[], list[Need]] | None = None,
        prepares: tuple[Hashable, Callable[[], Any]] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.fut = fut
        self.check = check
        self.fixture_name = fixture
        self._run = run
        self.needs = needs
        """The answers this check reads (Target.planned), so that they can be sent ahead."""
        self.prepares = prepares
        """Work it needs done before it sends (Target.preparations)."""

    def runtest(self) -> None:
        config = self.fut.config
        if config is not None and self.check in config.skip:
            pytest.skip(
                f"turned off in {config.path.name if config.path else 'cvat-fn.yaml'}:"
                f" skip: [{self.check}]"
            )
        try:
            self._run()
        except NotApplicable as exc:
            pytest.skip(str(exc))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CheckFailed):
            return f"{self.nodeid}: {excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


class FunctionSuite(pytest.File):
    """function.yaml as a test file: the built-in suite for its directory."""

    fut: FunctionUnderTest

    def _item(
        self,
        check: str,
        run: Callable[[], Any],
        fixture: str | None = None,
        needs: Callable[[], list[Need]] | None = None,
        prepares: tuple[Hashable, Callable[[], Any]] | None = None,
    ) -> CheckItem:
        name = f"{check}[{fixture}]" if fixture else check
        return CheckItem.from_parent(
            self,
            name=name,
            fut=self.fut,
            check=check,
            fixture=fixture,
            run=run,
            needs=needs,
            prepares=prepares,
        )

    def collect(self) -> Iterator[CheckItem]:
        fut = self.fut
        item = self._item
        yield item("lint", lambda: _lint(fut))
        if fut.problem or fut.config is None:
            yield item("config", lambda: _raise(fut.problem or "no configuration"))
            return
        yield item("starts", fut.starts)
        yield item("latency", lambda: check_ready(fut.target()), "ready")
        fixtures = fut.config.fixtures
        every = partial(_answers, fixtures)
        first = partial(_answers, fixtures[:1])
        yield item("latency", lambda: check_first_request(fut.target()), "first_request", first)
        examples = fut.options.examples
        for fx in fixtures:
            own = partial(_answers, [fx])
            yield item("answered", partial(_answered, fut, fx), fx.name, own)
            for name in fut.categories:
                yield item(name, partial(_category, fut, fx, name), fx.name, own)
            if fut.kind == "detector":
                for check, run in (("threshold", _threshold), ("threshold_monotone", _monotone)):
                    needs = partial(_at_thresholds, fx, check, examples)
                    yield item(check, partial(run, fut, fx, examples), fx.name, needs)
            if fut.kind in ("detector", "interactor"):
                views = (geometry_key(fx), partial(_geometry_views, fut, fx))
                yield item("geometry", partial(_geometry, fut, fx), fx.name, own, views)
        yield item("accuracy", lambda: check_accuracy(fut.target()), None, every)
        yield item("latency", lambda: check_warm(fut.target()), "warm", first)
        frames = (("robustness", fut.kind, examples), partial(robustness_calls, fut.kind, examples))
        yield item("robustness", lambda: check_robustness(fut.target(), examples), prepares=frames)
        yield item("concurrency", lambda: check_concurrency(fut.target()), None, every)
        if fut.options.dataset is not None:
            yield item("accuracy", partial(_dataset, fut), "dataset")


def _answers(fixtures: list[Fixture]) -> list[Need]:
    return [(fx, None) for fx in fixtures]


def _at_thresholds(fx: Fixture, check: str, examples: int) -> list[Need]:
    return [(fx, t) for t in thresholds_read(check, examples)]


def _answered(fut: FunctionUnderTest, fx: Fixture) -> None:
    check_answered(fut.target().answer(fx))


def _category(fut: FunctionUnderTest, fx: Fixture, name: str) -> None:
    check_category(fut.target().answer(fx), name, fut.categories)


def _threshold(fut: FunctionUnderTest, fx: Fixture, examples: int) -> None:
    check_respected(fut.target(), fx, examples)


def _monotone(fut: FunctionUnderTest, fx: Fixture, examples: int) -> None:
    check_monotone(fut.target(), fx, examples)


def _geometry_views(fut: FunctionUnderTest, fx: Fixture) -> list[Any]:
    """The geometry check's requests for ``fx``, planned from its answer and sent ahead."""
    target = fut.target()
    assert fut.config is not None
    if fx.roi is not None:  # _geometry says why nothing is sent
        return []
    views = plan_views(fx, target.kind, target.answer(fx), fut.config.geometry)
    if target.answer(fx).shapes:
        for i, view in enumerate(views):
            target.ahead.send(("geometry", fx.name, i), partial(send_view, target, fx, view))
    return views


def _geometry(fut: FunctionUnderTest, fx: Fixture) -> None:
    assert fut.config is not None
    if not fut.config.geometry:
        raise NotApplicable(f"{fut.config.path}: geometry: [] turns every relation off")
    if fx.roi is not None:
        raise NotApplicable(
            f"{fx.name} asks for a region of interest: geometry transforms whole frames (its"
            " own regions are cut as CVAT cuts them), so the fixture's answer is no reference"
        )
    generated = fut.config.path is None
    check_geometry(
        fut.target(), fx, fut.config.geometry, partial(_geometry_views, fut, fx), generated
    )


def _dataset(fut: FunctionUnderTest) -> None:
    from harness.eval.check import check_dataset

    check_dataset(fut.target(), fut.options.dataset)


def _raise(message: str) -> None:
    raise CheckFailed(message)


def _lint(fut: FunctionUnderTest) -> None:
    version = fut.config.cvat_version if fut.config else None  # --cvat-version, cvat-fn.yaml
    findings = lint_directory(fut.given, cvat_version=version)
    if fut.remote:  # the source is deployed, not here: its handler module cannot be looked at
        findings = [f for f in findings if f.field != "spec.handler"]
    errors = [str(f) for f in findings if f.severity == "error"]
    if errors:
        raise CheckFailed(f"{len(errors)} lint error(s):\n" + "\n".join(errors))
