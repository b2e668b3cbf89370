"""One judge: ``cvat-fn invoke`` and the suite hand the same answer and the same declared
labels (attributes and skeleton sublabels included, not only names) to the same validator,
and show the same findings. The corpus of detector answers (tests/cvat_server/corpus.py),
answered by tests/functions/corpus_detector, goes through both and must get equal findings,
answer by answer; tests/cvat_server/test_verdicts.py measures the same findings on a real CVAT.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.cvat.findings import CODES, Finding
from harness.cvat.judge import Judge
from harness.cvat.requests import KINDS
from harness.nuclio.spec import load_spec, parse_labels
from harness.suite.checks import CheckFailed, NotApplicable
from harness.suite.checks.schema import check_category, owner
from harness.suite.config import Fixture
from harness.suite.session import FunctionUnderTest, Options
from tests.cvat_server.corpus import CORPUS, ERRORS, HEIGHT, INTERACTOR, SPEC, VALID, WIDTH, frame
from tests.test_cli_invoke import ROOT, child_env

FUNCTIONS = ROOT / "tests" / "functions"
CORPUS_FUNCTION = FUNCTIONS / "corpus_detector"
ASTRONAUT = ROOT / "fixtures" / "images" / "astronaut.jpg"
SHAPE_TYPES = {"rectangle", "polygon", "polyline", "points", "ellipse", "cuboid", "mask",
               "skeleton", "tag"}  # fmt: skip
DETECTOR_CODES = {
    code for code in CODES if not code.startswith(("tracker.", "interactor.", "roi."))
} | {"detector.schema"}
"""Every code a detector's answer can get: the rules' own (tracker.* and interactor.* are those
kinds'; roi.* an interactor's, to a request with a region: tests/test_roi.py) and the kind's
schema code for the rest."""


def as_record(finding: Finding | dict[str, Any]) -> tuple[str, str, str, str, str]:
    if isinstance(finding, Finding):
        return (finding.severity, finding.code, finding.where, finding.message,
                finding.cvat_version)  # fmt: skip
    return (finding["severity"], finding["code"], finding["where"], finding["message"],
            finding["cvat_version"])  # fmt: skip


def run_invoke(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "invoke", *map(str, args)],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


# --- the corpus itself ----------------------------------------------------------------------


def test_the_corpus_gets_the_findings_it_states() -> None:
    """The corpus states cvat-fn's verdict on each answer; a rule change shows up here."""
    judge = Judge("detector", tuple(parse_labels(json.dumps(SPEC))))
    for answer in CORPUS:
        text, content_type = answer.payload()
        body = text if content_type != "application/json" else json.loads(text)
        found = judge.findings(text if isinstance(body, str) else body, image_size=(WIDTH, HEIGHT))
        assert {f"{f.severity} {f.code}" for f in found} == answer.expect, (answer.name, found)


def test_the_interactor_corpus_gets_the_findings_it_states() -> None:
    judge = Judge.for_function(load_spec(FUNCTIONS / "corpus_interactor"))
    assert judge.kind == "interactor"
    for answer in INTERACTOR:
        text, content_type = answer.payload()
        body = text if content_type != "application/json" else json.loads(text)
        found = judge.findings(text if isinstance(body, str) else body)
        assert {f"{f.severity} {f.code}" for f in found} == answer.expect, (answer.name, found)


def test_the_corpus_covers_every_code_and_shape_type() -> None:
    assert len(CORPUS) >= 60
    assert len({answer.name for answer in CORPUS}) == len(CORPUS)
    codes = {expect.split()[1] for answer in CORPUS for expect in answer.expect}
    missing = DETECTOR_CODES - codes
    # attr.value as a loss for an input type CVAT does not check cannot be sent: a task's
    # attribute has one of CVAT's input types (models.AttributeType), and so has the spec's
    assert missing == set(), missing
    shown = {
        item["type"].lower()
        for answer in VALID
        for item in answer.body
        if isinstance(answer.body, list)
    }
    assert shown == SHAPE_TYPES
    assert all(any(e.startswith("error") for e in a.expect) for a in ERRORS)
    assert all(not a.expect for a in VALID)
    assert "detector" in KINDS


def test_the_corpus_function_declares_the_corpus_spec() -> None:
    spec = load_spec(CORPUS_FUNCTION)
    assert json.loads(spec.annotations["spec"]) == SPEC


# --- invoke -------------------------------------------------------------------------------


def test_invoke_fails_on_a_number_attribute_sent_as_null() -> None:
    """CVAT's check_attr_value calls int(None): a TypeError it does not catch, so CVAT's
    interactive call answers 500 and the job fails. invoke judged with label names only
    and printed "valid"; with the declared attributes it names the attribute and exits 1."""
    done = run_invoke(ASTRONAUT, "--function", FUNCTIONS / "broken_attribute_null",
                      "--threshold", "0.5")  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "CVAT 2.73: 1 error(s), 0 warning(s)" in done.stdout, done.stdout
    assert (
        "  error: [0].attributes[0].value: age=null: CVAT calls int(value) on it, which raises"
        " TypeError, and fails the request"
    ) in done.stdout, done.stdout
    assert "valid for CVAT" not in done.stdout


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    directory = tmp_path_factory.mktemp("corpus-frames")
    paths = []
    for index, answer in enumerate(CORPUS):
        path = directory / f"{index:03d}-{answer.name}.png"
        path.write_bytes(frame(index))
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def invoked(frames: list[Path]) -> list[dict[str, Any]]:
    """One ``cvat-fn invoke --json`` of every corpus frame: one request each."""
    done = run_invoke(*frames, "--function", CORPUS_FUNCTION, "--json")
    document = json.loads(done.stdout)
    assert done.returncode == 1  # the corpus holds errors
    assert document["labels"] == [label["name"] for label in SPEC]
    requests: list[dict[str, Any]] = document["requests"]
    assert [r["status"] for r in requests] == [200] * len(CORPUS)
    return requests


@pytest.fixture(scope="module")
def suite_function() -> Iterator[FunctionUnderTest]:
    """The corpus function as the suite starts it (``pytest --function``)."""
    fut = FunctionUnderTest(CORPUS_FUNCTION, Options())
    assert fut.problem is None, fut.problem
    yield fut
    fut.stop()


def test_invoke_and_the_suite_find_the_same_in_every_answer(
    frames: list[Path], invoked: list[dict[str, Any]], suite_function: FunctionUnderTest
) -> None:
    target = suite_function.target()
    for answer, path, request in zip(CORPUS, frames, invoked, strict=True):
        suite = target.answer(Fixture(answer.name, path))
        from_invoke = [as_record(f) for f in request["findings"]]
        assert from_invoke == [as_record(f) for f in suite.findings], answer.name
        assert {f"{r[0]} {r[1]}" for r in from_invoke} == answer.expect, answer.name
        assert request["ok"] == (not any(r[0] in ("error", "loss") for r in from_invoke))


def test_the_suite_items_fail_on_exactly_those_findings(
    frames: list[Path], invoked: list[dict[str, Any]], suite_function: FunctionUnderTest
) -> None:
    """The suite's schema, labels, coordinates, attributes and skeleton items on each
    answer: an item fails exactly when invoke showed a failing finding it owns, and its
    message shows every finding invoke printed."""
    categories = suite_function.categories
    assert set(categories) == {"schema", "labels", "coordinates", "attributes", "skeleton"}
    target = suite_function.target()
    for answer, path, request in zip(CORPUS, frames, invoked, strict=True):
        invocation = target.answer(Fixture(answer.name, path))
        for name in categories:
            owned = [
                f
                for f in request["findings"]
                if owner(f["code"], categories) == name
                and (f["severity"] in ("error", "loss") or f["code"] == "coord.outside")
            ]
            try:
                check_category(invocation, name, categories)
            except CheckFailed as failure:
                assert owned, (answer.name, name, str(failure))
                for f in request["findings"]:
                    assert f"{f['where']}: {f['message']}" in str(failure), (answer.name, f)
            except NotApplicable:  # pragma: no cover - every corpus answer is HTTP 200
                pytest.fail(f"{answer.name}: no answer")
            else:
                assert not owned, (answer.name, name, owned)
