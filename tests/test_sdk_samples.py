"""The cvat-sdk samples pass their suite, and so do their Nuclio exports (which also lint
clean); a module given as ``module:create`` with cvat-cli's parameters runs the same way.
One real inner pytest session runs the modules and their exports.

A module and its ``cvat-fn export-nuclio`` get the same verdicts, check by check (outcomes
counted by check name, fixtures pooled): every sample, and tests/sdk_functions/no_score, a
correct detector that filters at ``conf_threshold`` and sets no ``score``. An SDK shape's
``score`` is optional (cvat_sdk/auto_annotation/interface.py), and CVAT never reads a shape's
``confidence`` (cvat/apps/lambda_manager/views.py at 2.73.0,
``DetectionResultConverter._parse_anno`` builds the shape from label, type, points,
attributes and the rest, no confidence or score): so ``threshold`` is not applicable to an
export whose shapes carry none (skipped with the reason), and ``threshold_monotone`` judges
what ``sdk_threshold`` judges on the module, a higher threshold giving a subset.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

import pytest

pytest.importorskip("cvat_sdk")

from harness.cli import main  # noqa: E402
from harness.cvat.lint import lint_directory  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DETECTOR = ROOT / "sample_functions/sdk_face_detector/haar_faces.py"
TRACKER = ROOT / "sample_functions/sdk_template_tracker/template_matching.py"
INTERACTOR = ROOT / "sample_functions/sdk_grabcut/grabcut.py"
FACTORY = ROOT / "tests/sdk_functions/factory"
NO_SCORE = ROOT / "tests/sdk_functions/no_score/no_score.py"
EXPORT_OF = {
    "haar_faces": "haar_export",
    "template_matching": "tracker_export",
    "grabcut": "grabcut_export",
    "no_score": "no_score_export",
}
# Latency is the benchmarks' business (bench/): on a loaded CI machine only a stuck function
# may fail these budgets.
RELAXED = [
    *("--budget", "warm_requests=5", "--budget", "p50_ms=20000", "--budget", "p95_ms=30000"),
    *("--budget", "p99_ms=30000", "--budget", "first_request_s=60"),
]
SDK_DETECTOR_CHECKS = {"sdk_module", "sdk_answer", "sdk_mask_to_poly", "sdk_threshold"}


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("exports")
    result = {}
    modules = (
        ("haar_export", DETECTOR),
        ("tracker_export", TRACKER),
        ("grabcut_export", INTERACTOR),
        ("no_score_export", NO_SCORE),
    )
    for name, module in modules:
        assert main(["export-nuclio", str(module), str(out / name)]) == 0
        result[name] = out / name
    return result


def inner_run(workdir: Path, functions: list[str], *extra: str) -> dict[str, dict[str, str]]:
    """A real inner pytest session over ``functions``: each item's outcome by function."""
    xml = workdir / "inner.xml"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={xml}"]
    for function in functions:
        command += ["--function", function]
    command += ["--cvat-fn-examples", "2", *RELAXED, *extra]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(FACTORY), str(ROOT)]))
    done = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=600
    )
    seen: dict[str, dict[str, str]] = defaultdict(dict)
    for case in ET.parse(xml).getroot().iter("testcase"):
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            if case.find(tag) is not None:
                outcome = tag
        seen[case.attrib["classname"]][case.attrib["name"]] = outcome
    assert seen, done.stdout + done.stderr
    return seen


@pytest.fixture(scope="module")
def outcomes(
    exports: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, str]]:
    modules = [DETECTOR, TRACKER, INTERACTOR, NO_SCORE]
    functions = [*map(str, modules), *map(str, exports.values())]
    seen = inner_run(tmp_path_factory.mktemp("sdk-samples"), functions)
    # parameters go to every cvat-sdk function of a session (a module without create()
    # refuses them, as cvat-cli does), so the factory gets a session of its own
    # (the suite itself ran above: here only what the module form changes)
    factory = inner_run(
        tmp_path_factory.mktemp("sdk-factory"),
        ["haar_factory:create"],
        *("--function-parameter", "default_threshold=float:0.6"),
        *("-k", "sdk_module or starts or answered or sdk_answer or accuracy"),
    )
    return {**seen, **factory}


def _checks(items: dict[str, str]) -> set[str]:
    return {name.split("[")[0] for name in items}


@pytest.mark.parametrize(
    "function",
    [
        *EXPORT_OF,
        *EXPORT_OF.values(),
    ],
)
def test_passes_its_suite(outcomes: dict[str, dict[str, str]], function: str) -> None:
    items = outcomes[function]
    bad = {item: seen for item, seen in items.items() if seen not in ("passed", "skipped")}
    assert not bad, items
    assert {"lint", "starts", "accuracy", "robustness", "concurrency"} <= _checks(items)
    assert items["accuracy"] == "passed"


def test_a_module_given_by_name_with_parameters(outcomes: dict[str, dict[str, str]]) -> None:
    items = outcomes["haar_factory"]
    assert set(items.values()) == {"passed"}, items
    assert {"sdk_module", "starts", "answered", "sdk_answer", "accuracy"} == _checks(items)


def test_the_sdk_checks_run_on_sdk_modules_only(outcomes: dict[str, dict[str, str]]) -> None:
    assert SDK_DETECTOR_CHECKS | {"sdk_reads_threshold"} <= _checks(outcomes["haar_faces"])
    assert {"sdk_module", "sdk_track"} <= _checks(outcomes["template_matching"])
    assert {"sdk_module", "sdk_interact"} <= _checks(outcomes["grabcut"])
    assert outcomes["grabcut"]["sdk_interact[rocket-with-box]"] == "passed"
    assert outcomes["haar_faces"]["sdk_answer[astronaut]"] == "passed"
    assert outcomes["haar_faces"]["sdk_threshold[astronaut]"] == "passed"
    assert outcomes["template_matching"]["sdk_track[cat-eye-and-nose]"] == "passed"
    # the exports are plain Nuclio functions: the Nuclio threshold checks, no SDK ones
    assert "threshold_monotone" in _checks(outcomes["haar_export"])
    assert outcomes["haar_export"]["threshold_monotone[astronaut]"] == "passed"
    assert not {c for c in _checks(outcomes["haar_export"]) if c.startswith("sdk_")}


def test_every_sdk_sample_is_exported_here() -> None:
    helpers = {"model_handler.py", "model_weights.py"}
    samples = {
        module.stem
        for directory in (ROOT / "sample_functions").glob("sdk_*")
        for module in directory.glob("*.py")
        if module.name not in helpers
    }
    assert samples | {"no_score"} == set(EXPORT_OF)


def _counted(items: dict[str, str]) -> dict[str, Counter[str]]:
    """{check: Counter(outcome)}, the fixtures of a check pooled."""
    checks: dict[str, Counter[str]] = defaultdict(Counter)
    for item, outcome in items.items():
        checks[item.split("[")[0]][outcome] += 1
    return dict(checks)


@pytest.mark.parametrize("name", sorted(EXPORT_OF))
def test_the_export_gets_the_modules_verdicts(
    outcomes: dict[str, dict[str, str]], name: str
) -> None:
    module, export = _counted(outcomes[name]), _counted(outcomes[EXPORT_OF[name]])
    pair = {"threshold", "threshold_monotone"}
    shared = (set(module) & set(export)) - pair
    assert {"starts", "answered", "accuracy", "robustness", "concurrency"} <= shared
    assert {c: module[c] for c in shared} == {c: export[c] for c in shared}
    # what one side alone runs: cvat-sdk's own rules on the module, the Nuclio threshold pair
    # on the export, where sdk_threshold's verdicts become threshold_monotone's
    assert all(c.startswith("sdk_") for c in set(module) - shared), module
    assert set(export) - shared <= pair, export
    if "sdk_threshold" in module:
        assert export["threshold_monotone"] == module["sdk_threshold"], (module, export)
        assert set(export["threshold"]) <= {"passed", "skipped"}, export


def test_without_scores_the_threshold_check_is_not_applicable_on_the_export(
    outcomes: dict[str, dict[str, str]],
) -> None:
    """no_score's export answers every shape without a confidence: ``threshold`` skips (it
    used to fail with "[0] has no numeric confidence") and ``threshold_monotone`` passes; the
    sample's export carries the ``score`` as confidence and is judged on it."""
    assert outcomes["no_score_export"]["threshold[astronaut]"] == "skipped"
    assert outcomes["no_score_export"]["threshold_monotone[astronaut]"] == "passed"
    assert outcomes["no_score"]["sdk_threshold[astronaut]"] == "passed"
    assert outcomes["haar_export"]["threshold[astronaut]"] == "passed"


def test_exports_lint_clean(exports: dict[str, Path]) -> None:
    for directory in exports.values():
        assert lint_directory(directory) == [], directory
        files = {p.name for p in directory.iterdir()}
        assert {"cvat-fn.yaml", "function.yaml", "main.py"} < files, files


@pytest.mark.parametrize(
    ("export", "module"),
    [("haar_export", DETECTOR), ("tracker_export", TRACKER), ("grabcut_export", INTERACTOR)],
)
def test_an_export_carries_the_model_beside_the_module(
    exports: dict[str, Path], export: str, module: Path
) -> None:
    """The sample loads model_handler.py (and its weights) from beside itself: the export
    has them as files of its own, not links back into the repository."""
    directory = exports[export]
    shipped = ["model_handler.py", "model_weights.py", "requirements.txt", module.name]
    shipped += [p.relative_to(module.parent).as_posix() for p in module.parent.glob("weights/*")]
    assert "weights" in {Path(name).parent.name for name in shipped}
    for name in shipped:
        path = directory / name
        assert path.is_file() and not path.is_symlink(), path
        assert path.read_bytes() == (module.parent / name).read_bytes(), name


def test_export_refuses_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export-nuclio", str(tmp_path / "missing.py"), str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip().endswith("missing.py: no such file")
    broken = ROOT / "tests/sdk_functions/broken_duplicate_ids/broken_duplicate_ids.py"
    assert main(["export-nuclio", str(broken), str(tmp_path / "out")]) == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert first.endswith("BadFunctionError: label person has same ID as another label (0)")
    assert main(["export-nuclio", str(DETECTOR), str(tmp_path / "out"), "-p", "x=list:1"]) == 2
    assert "unsupported parameter type 'list'" in capsys.readouterr().err
    assert main(["export-nuclio", str(DETECTOR), str(tmp_path / "out")]) == 0
    assert main(["export-nuclio", str(DETECTOR), str(tmp_path / "out")]) == 2
    assert "function.yaml exists (use --force" in capsys.readouterr().err


def test_invoke_and_serve_without_cvat_sdk_name_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """cvat-sdk hidden, as on a machine without the sdk extra: one line, exit 2."""
    from harness.sdk import EXTRA_HINT

    for name in ("cvat_sdk", "cvat_sdk.auto_annotation"):
        monkeypatch.setitem(sys.modules, name, None)
    assert main(["serve", str(DETECTOR)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"cvat-fn serve: {EXTRA_HINT}"]
    assert main(["invoke", "x.jpg", "--function", str(DETECTOR)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"cvat-fn invoke: --function {EXTRA_HINT}"]


def _invoke(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "harness.cli", "invoke", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_invoke_runs_an_sdk_module_as_its_export_would() -> None:
    astronaut = str(ROOT / "fixtures/images/astronaut.jpg")
    done = _invoke("--function", str(DETECTOR), astronaut, "--threshold", "0.5")
    assert done.returncode == 0, done.stderr
    assert "face   rectangle       0.988  [176, 65, 272, 161]" in done.stdout
    broken = ROOT / "tests/sdk_functions/broken_unknown_label/broken_unknown_label.py"
    done = _invoke("--function", str(broken), astronaut)
    assert done.returncode == 1
    assert "BadFunctionError: function output tag with unknown label ID (7)" in done.stdout
    refused = ROOT / "tests/sdk_functions/broken_duplicate_ids/broken_duplicate_ids.py"
    done = _invoke("--function", str(refused), astronaut)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"cvat-fn invoke: --function {refused}: BadFunctionError: label person has same ID"
        " as another label (0)"
    ]


def test_the_gate_takes_an_sdk_module(tmp_path: Path) -> None:
    """cvat-fn test FUNC.py: the same suite, its exit code and reports (only sdk_module is
    selected here, so nothing is started; the suite's runs are above)."""

    def gate(module: Path, report: str) -> tuple[int, str]:
        command = [sys.executable, "-m", "harness.cli", "test", str(module)]
        command += ["--report-dir", str(tmp_path / report), "-k", "sdk_module"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        return done.returncode, (tmp_path / report / "junit.xml").read_text()

    code, junit = gate(DETECTOR, "good")
    assert code == 0 and 'name="sdk_module"' in junit and "<failure" not in junit
    refused = ROOT / "tests/sdk_functions/broken_duplicate_ids/broken_duplicate_ids.py"
    code, junit = gate(refused, "refused")
    assert code == 1 and "label person has same ID as another label (0)" in junit


def _sigint_default() -> None:
    """Ctrl-C must reach serve even when the tests run in a background job."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_serve_runs_an_sdk_module_until_ctrl_c(tmp_path: Path) -> None:
    import signal

    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch_root))
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "serve", str(DETECTOR)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_sigint_default,
    )
    try:
        assert proc.stdout is not None
        url, example = proc.stdout.readline().strip(), proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else ""
        assert example.endswith(f"--url {url} --function {DETECTOR}")
        assert len(list(scratch_root.glob("cvat-fn-sdk-*"))) == 1
        astronaut = str(ROOT / "fixtures/images/astronaut.jpg")
        done = _invoke(astronaut, "--url", url, "--function", str(DETECTOR))
        assert done.returncode == 0, done.stderr
        assert "face   rectangle       0.988  [176, 65, 272, 161]" in done.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    assert code == 0
    assert list(scratch_root.glob("cvat-fn-sdk-*")) == []


def test_the_export_builds_on_a_python_cvat_sdk_supports(exports: dict[str, Path]) -> None:
    """function.yaml's runtime satisfies cvat-sdk's Requires-Python, and its base image's
    python3 is that version (Debian 12: 3.11); ubuntu:22.04's 3.10 would fail the pip step."""
    from importlib.metadata import metadata

    import yaml
    from packaging.specifiers import SpecifierSet

    data = yaml.safe_load((exports["haar_export"] / "function.yaml").read_text())
    runtime = data["spec"]["runtime"].partition(":")[2]
    assert runtime in SpecifierSet(metadata("cvat-sdk")["Requires-Python"])
    assert data["spec"]["build"]["baseImage"] == "debian:bookworm-slim" and runtime == "3.11"


def test_export_takes_the_modules_directory_as_nuctl_deploy_would(tmp_path: Path) -> None:
    """Beside the module: what it may need ships; hidden files, caches, what the export
    writes itself, and the export (when it lies inside) do not."""
    source = tmp_path / "func"
    (source / "data").mkdir(parents=True)
    (source / "data" / "table.json").write_text("{}")
    (source / "helper.py").write_text("VALUE = 1\n")
    (source / "linked.txt").symlink_to(tmp_path / "target.txt")
    (tmp_path / "target.txt").write_text("followed")
    for unwanted in (".git/HEAD", "__pycache__/helper.pyc", "data/__pycache__/x.pyc", ".env"):
        (source / unwanted).parent.mkdir(parents=True, exist_ok=True)
        (source / unwanted).write_text("no")
    (source / "function.yaml").write_text("old: yes\n")
    (source / "main.py").write_text("old = True\n")
    module = source / "func.py"
    module.write_text(
        "import cvat_sdk.auto_annotation as cvataa\n"
        "spec = cvataa.DetectionFunctionSpec(labels=[cvataa.label_spec('cat', 0)])\n"
        "def detect(context, image):\n    return []\n"
    )
    outdir = source / "build" / "out"
    assert main(["export-nuclio", str(module), str(outdir)]) == 0
    shipped = {p.relative_to(outdir).as_posix() for p in outdir.rglob("*") if p.is_file()}
    assert shipped == {
        "func.py",
        "helper.py",
        "linked.txt",
        "data/table.json",
        "function.yaml",
        "main.py",
    }, shipped
    assert (outdir / "linked.txt").read_text() == "followed"
    assert not (outdir / "linked.txt").is_symlink()
    assert "old" not in (outdir / "function.yaml").read_text()
