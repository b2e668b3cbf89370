"""pytest plugin: ``pytest --function DIR`` runs cvat-fn's built-in suite against a function.

Without ``--function`` it only offers its fixtures and options, and stays out of the way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.cvat.client import FunctionClient, Invocation
from harness.cvat.findings import parse_version
from harness.nuclio.runners import RUNTIMES
from harness.nuclio.runners.options import add_runner_options, runner_kwargs
from harness.nuclio.spec import find_function_yaml
from harness.sdk import add_parameter_option
from harness.suite.checks.target import Target
from harness.suite.session import CheckItem, FunctionSuite, FunctionUnderTest, Options

FUNCTIONS = pytest.StashKey[dict[Path, FunctionUnderTest]]()
RESULTS = pytest.StashKey[dict[str, list[Any]]]()
WRITTEN = pytest.StashKey[list[Path]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cvat-fn", "CVAT serverless functions (cvat-fn)")
    group.addoption(
        "--function",
        action="append",
        default=[],
        metavar="DIR",
        help="function directory (function.yaml, main.py) to start and run the built-in suite"
        " against; repeatable",
    )
    group.addoption(
        "--runtime",
        choices=RUNTIMES,
        default="process",
        help="where the function runs: process (default, the current Python), docker (an image"
        " built from function.yaml), nuctl, url (already running, see --function-url)",
    )
    group.addoption("--function-url", metavar="URL", help="with --runtime url: where it listens")
    group.addoption(
        "--base-image", metavar="IMAGE", help="with --runtime docker: replace baseImage"
    )
    add_runner_options(group.addoption)
    group.addoption(
        "--budget",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a cvat-fn.yaml budget, e.g. p95_ms=500 or warm_requests=50",
    )
    group.addoption(
        "--minimum",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override an accuracy minimum: iou, oks, precision or recall",
    )
    group.addoption(
        "--cvat-fn-examples",
        type=int,
        default=10,
        metavar="N",
        help="Hypothesis examples per threshold and robustness check (default 10)",
    )
    group.addoption(
        "--readiness-timeout",
        type=float,
        metavar="SECONDS",
        help="how long to wait for the function to become ready (default: from the spec)",
    )
    # Dataset evaluation (cvat-fn eval): an accuracy[dataset] item with eval's gate.
    group.addoption(
        "--dataset",
        metavar="PATH",
        help="a CVAT export (CVAT for images 1.1 or COCO 1.0, folder or zip): adds an"
        " accuracy[dataset] item scoring a detector with COCO metrics, as cvat-fn eval",
    )
    group.addoption(
        "--dataset-minimum",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="with --dataset: a minimum for an eval.json metric, e.g. map=0.3",
    )
    group.addoption(
        "--dataset-baseline", metavar="OLD/eval.json", help="with --dataset: fail on a drop"
    )
    group.addoption(
        "--dataset-max-drop",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="with --dataset-baseline: allowed drop per metric (default 0.005 each)",
    )
    group.addoption(
        "--dataset-report-dir",
        default="cvat-fn-eval",
        metavar="DIR",
        help="with --dataset: where eval.json and eval.html go (default: ./cvat-fn-eval)",
    )
    add_parameter_option(
        group.addoption, given="for a cvat-sdk --function (module.py or module:create): "
    )
    group.addoption(
        "--cvat-version",
        metavar="X.Y",
        help="judge answers as this CVAT release does (default: cvat-fn.yaml's cvat_version,"
        " else the newest the harness knows)",
    )
    group.addoption("--cvat-fn-json", metavar="PATH", help="write the suite's JSON report here")
    group.addoption("--cvat-fn-html", metavar="PATH", help="write the suite's HTML report here")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """``--function DIR`` settles rootdir and ini file as ``--function=DIR`` does."""
    from harness.suite.rootdir import resettle

    resettle(early_config)


def _pairs(values: list[str], option: str) -> dict[str, float]:
    result = {}
    for value in values:
        name, sep, number = value.partition("=")
        try:
            result[name.strip()] = float(number)
        except ValueError:
            sep = ""
        if not sep:
            raise pytest.UsageError(f"{option} {value!r}: expected NAME=NUMBER")
    return result


def _cvat_version(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parse_version(value)
    except ValueError as exc:
        raise pytest.UsageError(f"--cvat-version: {exc}") from None
    return value


class CheckWarnings:
    """A CheckWarning raised in a check goes into that check's entry of the JSON and HTML
    reports, as pytest's warnings summary shows it (recorded after the item's report)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_warning_recorded(
        self, warning_message: Any, when: str, nodeid: str, location: Any
    ) -> None:
        from harness.suite.checks import CheckWarning

        if when != "runtest" or not isinstance(warning_message.message, CheckWarning):
            return
        for results in self.config.stash.get(RESULTS, {}).values():
            for result in results:
                if result.id == nodeid:
                    said = f"warning: {warning_message.message}"
                    result.message = f"{result.message}\n{said}" if result.message else said


def pytest_configure(config: pytest.Config) -> None:
    directories = config.getoption("function")
    remote = not directories and bool(config.getoption("nuclio_dashboard"))
    if remote:
        directories = [_deployed_function_yaml(config)]
    if not directories:
        return
    config.pluginmanager.register(CheckWarnings(config), "cvat-fn-check-warnings")
    options = Options(
        runtime=config.getoption("runtime"),
        url=config.getoption("function_url"),
        base_image=config.getoption("base_image"),
        runner=_runner_options(config),
        examples=config.getoption("cvat_fn_examples"),
        readiness_timeout=config.getoption("readiness_timeout"),
        budgets=_pairs(config.getoption("budget"), "--budget"),
        minimums=_pairs(config.getoption("minimum"), "--minimum"),
        dataset=_dataset_options(config),
        cvat_version=_cvat_version(config.getoption("cvat_version")),
    )
    functions: dict[Path, FunctionUnderTest] = {}
    paths = []
    for directory in directories:
        sdk = _sdk_function(directory, config, options)
        if sdk is not None:
            functions[sdk[0].resolve()] = sdk[1]
            paths.append(str(sdk[0]))
            continue
        path = Path(directory)
        if not path.exists():
            raise pytest.UsageError(f"--function {directory}: no such directory or file")
        try:
            yaml_path = find_function_yaml(path).resolve()
        except ValueError as exc:
            raise pytest.UsageError(f"--function {directory}: {exc}") from None
        functions[yaml_path] = FunctionUnderTest(path, options)
        functions[yaml_path].remote = remote
        paths.append(str(yaml_path))
    config.stash[FUNCTIONS] = functions
    if config.args_source == pytest.Config.ArgsSource.ARGS and _explicit(config):
        config.args.extend(paths)
    else:
        config.args[:] = paths  # only the suite, not whatever tests lie around

    def stop_all() -> None:
        for fut in functions.values():
            fut.stop()

    config.add_cleanup(stop_all)


def _dataset_options(config: pytest.Config) -> Any:
    path = config.getoption("dataset")
    if not path:
        return None
    from harness.eval.check import DatasetOptions

    baseline = config.getoption("dataset_baseline")
    return DatasetOptions(
        path=Path(path),
        report_dir=Path(config.getoption("dataset_report_dir")),
        minimums=_pairs(config.getoption("dataset_minimum"), "--dataset-minimum"),
        baseline=Path(baseline) if baseline else None,
        max_drop=_pairs(config.getoption("dataset_max_drop"), "--dataset-max-drop"),
    )


def _runner_options(config: pytest.Config) -> dict[str, Any]:
    """The runner options, a --wrapper that is no file refused before anything starts."""
    from harness.nuclio.runners.wrapper import WrapperError, check_wrapper

    options = runner_kwargs(config)
    if options["wrapper"]:
        try:
            options["wrapper"] = str(check_wrapper(options["wrapper"]))
        except WrapperError as exc:
            raise pytest.UsageError(str(exc)) from None
    return options


def _deployed_function_yaml(config: pytest.Config) -> str:
    """--nuclio-dashboard with no --function: the deployed function's config, as CVAT reads
    it from the dashboard, written to a temporary directory that the session removes."""
    import requests

    from harness.nuclio.runners.scratch import ScratchDir
    from harness.nuclio.runners.url import fetch_function_yaml

    name = config.getoption("function_name")
    if not name or config.getoption("runtime") != "url":
        raise pytest.UsageError("--nuclio-dashboard needs --runtime url and --function-name NAME")
    scratch = ScratchDir("cvat-fn-deployed-")  # swept by the next run if this is killed
    config.add_cleanup(scratch.remove)
    dashboard = config.getoption("nuclio_dashboard")
    try:
        namespace = config.getoption("namespace")
        directory = fetch_function_yaml(dashboard, name, namespace, scratch.path)
    except (requests.RequestException, LookupError, ValueError) as exc:
        raise pytest.UsageError(f"--nuclio-dashboard {dashboard}: {exc}") from None
    return str(directory)


def _sdk_function(
    value: str, config: pytest.Config, options: Options
) -> tuple[Path, FunctionUnderTest] | None:
    """A cvat-sdk module (``func.py``, ``module:create``) given to --function (harness/sdk)."""
    from harness.sdk import looks_like_sdk_ref, require_sdk

    if not looks_like_sdk_ref(value):
        return None
    try:
        require_sdk()
    except ImportError as exc:
        raise pytest.UsageError(f"--function {value}: {exc}") from None
    from harness.sdk.export import SdkError, parse_params
    from harness.sdk.suite import make_function

    try:
        params = parse_params(config.getoption("function_parameter"))
    except SdkError as exc:
        raise pytest.UsageError(f"--function-parameter: {exc}") from None
    return make_function(value, params, options)


def _explicit(config: pytest.Config) -> bool:
    """Were test paths given on the command line (besides options)?"""
    return bool(config.invocation_params.args) and any(
        not str(arg).startswith("-") and Path(str(arg).split("::")[0]).exists()
        for arg in config.invocation_params.args
        if str(arg) not in config.getoption("function")
    )


def pytest_collection_finish(session: pytest.Session) -> None:
    """Each function's plan: the answers its selected checks read, in the order they read
    them, so that they can be sent ahead of the checks (harness.suite.checks.target). A
    function a selected check needs starts now, in the background, while this is planned."""
    for item in session.items:
        if isinstance(item, CheckItem) and item.check != "lint":
            item.fut.start_soon()
    for item in session.items:
        if isinstance(item, CheckItem):
            if item.needs is not None:
                item.fut.planned.extend(item.needs())
            if item.prepares is not None:
                item.fut.preparations.append(item.prepares)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember each check's outcome for the JSON and HTML reports; a skip is placed at its
    check's id."""
    report = yield
    if isinstance(item, CheckItem) and report.skipped and isinstance(report.longrepr, tuple):
        # A skip raised inside a check would be placed at the raise in harness/suite/session.py; the
        # check's own id says which one skipped (``pytest -rs``).
        report.longrepr = (item.nodeid, None, report.longrepr[2])
    if isinstance(item, CheckItem) and (report.when == "call" or not report.passed):
        from harness.suite.reporting import check_result

        results = item.config.stash.setdefault(RESULTS, {})
        results.setdefault(item.fut.name, []).append(check_result(item, report))
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    json_path, html_path = config.getoption("cvat_fn_json"), config.getoption("cvat_fn_html")
    functions = config.stash.get(FUNCTIONS, {})
    if not functions or not (json_path or html_path):
        return
    from harness.suite.reporting import write_reports

    config.stash[WRITTEN] = write_reports(
        list(functions.values()), config.stash.get(RESULTS, {}), json_path, html_path
    )


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    for path in config.stash.get(WRITTEN, []):
        terminalreporter.write_line(f"cvat-fn report: {path}")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> FunctionSuite | None:
    functions = parent.config.stash.get(FUNCTIONS, {})
    fut = functions.get(file_path.resolve())
    if fut is None or file_path.suffix == ".py":  # a cvat-sdk module: see below
        return None
    return _suite(fut, file_path, parent)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> Any:
    """A cvat-sdk module given to --function is the suite, never imported by pytest itself
    (a crash while loading it must not take the session down)."""
    fut = parent.config.stash.get(FUNCTIONS, {}).get(module_path.resolve())
    return None if fut is None else _suite(fut, module_path, parent)


def _suite(fut: FunctionUnderTest, file_path: Path, parent: pytest.Collector) -> FunctionSuite:
    suite_class = getattr(fut, "suite_class", FunctionSuite)  # cvat-sdk: SdkFunctionSuite
    suite = suite_class.from_parent(parent, path=file_path, nodeid=fut.name)
    suite.fut = fut
    return suite


class FunctionHandle:
    """A started function for a user's own tests: CVAT's calls, relative image paths resolved
    from the working directory first, then the function's directory."""

    def __init__(self, fut: FunctionUnderTest) -> None:
        self._fut = fut

    @property
    def target(self) -> Target:
        return self._fut.target()

    @property
    def url(self) -> str:
        return self.target.url

    @property
    def spec(self) -> Any:
        return self._fut.spec

    @property
    def logs(self) -> list[str]:
        return self._fut.log_lines()

    @property
    def client(self) -> FunctionClient:
        return self.target.client()

    def _path(self, image: str | Path | bytes) -> str | Path | bytes:
        if isinstance(image, bytes) or Path(image).exists():
            return image
        candidate = self._fut.directory / image
        return candidate if candidate.exists() else image

    def detect(self, image: str | Path | bytes, threshold: float | None = None) -> Invocation:
        return self.client.detect(self._path(image), threshold)

    def interact(
        self, image: str | Path | bytes, pos_points: Any, neg_points: Any = (), obj_bbox: Any = None
    ) -> Invocation:
        return self.client.interact(self._path(image), pos_points, neg_points, obj_bbox)

    def track(self, image: str | Path | bytes, shapes: Any, states: Any = ()) -> Invocation:
        return self.client.track(self._path(image), shapes, states)

    def reid(
        self,
        image0: str | Path | bytes,
        image1: str | Path | bytes,
        boxes0: Any,
        boxes1: Any,
        **kw: Any,
    ) -> Invocation:
        return self.client.reid(self._path(image0), self._path(image1), boxes0, boxes1, **kw)


@pytest.fixture(scope="session")
def cvat_functions(pytestconfig: pytest.Config) -> dict[str, FunctionHandle]:
    """Every ``--function``, started on first use, by directory name."""
    functions = pytestconfig.stash.get(FUNCTIONS, {})
    return {fut.name: FunctionHandle(fut) for fut in functions.values()}


@pytest.fixture(scope="session")
def cvat_function(cvat_functions: dict[str, FunctionHandle]) -> Iterator[FunctionHandle]:
    """The first ``--function``, started once per session (shared with the built-in suite)."""
    if not cvat_functions:
        pytest.skip("needs a function: run pytest --function DIR")
    yield next(iter(cvat_functions.values()))
