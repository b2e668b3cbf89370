"""Verdicts measured, not read: every answer of the corpus (corpus.py) goes through a real CVAT,
by the interactive call (``POST /api/lambda/functions/<id>``, what the UI's AI tools send) and
by an auto-annotation job (``POST /api/lambda/requests``, then ``GET /api/tasks/<id>/
annotations``), and what CVAT did is compared with cvat-fn's findings for the same answer and
spec, judged for the release the server reports (``/api/server/about``; point CVAT_SOURCE at
another release's source to re-measure every rule against it):

- CVAT fails (the call answers an error status, the job fails) exactly when cvat-fn says error;
- what CVAT keeps differs from what was sent exactly when cvat-fn says loss (stored.py says
  what is normalised: only what CVAT always changes), and each loss says what CVAT keeps
  instead, as measured;
- otherwise CVAT keeps the answer as sent.

tests/functions/corpus_detector answers each corpus entry for the frame painted with its
index. The answers CVAT takes share one job on one task (a frame each); each error answer
needs a job of its own, since one failing frame ends a job: they sit on a second task cut into
one-frame jobs, annotated job by job.

CVAT runs here with datumaro 1.10.0 instead of CVAT's fork (see the shared CVAT README): the
one known difference is a mask that is its box alone (an empty bitmap), which the fork fails on
and 1.10.0 stores as an empty mask (DATUMARO_DEPENDENT). Both store an all-zero bitmap.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.cvat.findings import Finding
from harness.cvat.judge import Judge
from harness.nuclio.spec import load_spec
from tests.cvat_server import stored as canon
from tests.cvat_server.client import CvatClient, labels_from_spec
from tests.cvat_server.corpus import CORPUS, HEIGHT, INTERACTOR, WIDTH, Answer, frame
from tests.cvat_server.server import CvatServer
from tests.cvat_server.standin import served

FUNCTION_DIR = Path(__file__).resolve().parents[1] / "functions" / "corpus_detector"
FUNCTION = "corpus-detector"  # its metadata.name, CVAT's function id
INTERACTOR_DIR = FUNCTION_DIR.with_name("corpus_interactor")
DATUMARO_SUBSTITUTE = "1.10.0"
DATUMARO_DEPENDENT = {"mask-box-only"}
"""Answers whose verdict is datumaro's: an empty mask bitmap (the box alone), which the fork
CVAT 2.22 pins fails to encode (mask_to_rle raises IndexError; tests/test_fork_mask_rules.py
runs it; cvat-fn says error), while datumaro 1.10.0, the test server's substitute, stores an
empty mask (test_the_datumaro_substitute_stores_an_empty_mask says so)."""


@dataclass
class Outcome:
    """What CVAT did with one answer, one way."""

    failed: bool
    detail: str  # the status or job error
    sent: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return not self.failed and self.sent != self.kept


@dataclass
class Measured:
    index: int
    answer: Answer
    findings: list[Finding]
    interactive: Outcome | None = None
    job: Outcome | None = None

    @property
    def verdict(self) -> str:
        severities = {f.severity for f in self.findings}
        return "error" if "error" in severities else "loss" if "loss" in severities else "ok"

    def describe(self) -> str:
        lines = [f"#{self.index} {self.answer.name}: cvat-fn says {self.verdict}"]
        lines += [f"    {f.severity} {f.code} {f.where}: {f.message}" for f in self.findings]
        for way, outcome in (("interactive call", self.interactive), ("job", self.job)):
            if outcome is None:
                lines.append(f"  {way}: not measured")
                continue
            state = "failed" if outcome.failed else "differs" if outcome.differs else "same"
            lines.append(f"  {way}: {state} ({outcome.detail[:300]})")
            if outcome.differs:
                lines.append(f"    sent: {outcome.sent}")
                lines.append(f"    kept: {outcome.kept}")
        return "\n".join(lines)


@dataclass
class Run:
    version: str
    datumaro: str
    measured: list[Measured]
    timings: dict[str, float]

    def judged(self) -> list[Measured]:
        """The answers whose verdict this CVAT decides (not its datumaro substitute)."""
        if self.datumaro != DATUMARO_SUBSTITUTE:
            return self.measured
        return [m for m in self.measured if m.answer.name not in DATUMARO_DEPENDENT]


def _frames(directory: Path, indices: list[int]) -> list[Path]:
    directory.mkdir()
    paths = []
    for order, index in enumerate(indices):
        path = directory / f"{order:03d}-{CORPUS[index].name}.png"
        path.write_bytes(frame(index))
        paths.append(path)
    return paths


def _task(cvat: CvatClient, name: str, frames: list[Path], segment_size: int | None) -> int:
    spec = load_spec(FUNCTION_DIR).annotations["spec"]
    body: dict[str, Any] = {"name": name, "labels": labels_from_spec(spec)}
    if segment_size:
        body["segment_size"] = segment_size
    answer = cvat.request("POST", "/api/tasks", json=body)
    assert answer.status_code == 201, answer.text
    task = int(answer.json()["id"])
    cvat.upload_images(task, frames)
    return task


def _by_frame(data: dict[str, Any]) -> dict[int, dict[str, list[Any]]]:
    frames: dict[int, dict[str, list[Any]]] = {}
    for kind in ("tags", "shapes"):
        for item in data.get(kind) or ():
            frames.setdefault(int(item["frame"]), {"tags": [], "shapes": []})[kind].append(item)
    return frames


def _outcome(
    failed: bool, detail: str, answer: Answer, data: dict[str, Any], labels: Any
) -> Outcome:
    if failed:
        return Outcome(True, detail)
    by_name = {label.name: label for label in labels.values()}
    sent = canon.sent(answer.body, by_name)
    return Outcome(False, detail, sent, canon.stored(data, labels, sent))


def _token_client(server: CvatServer) -> CvatClient:
    """The admin's client with a token (``POST /api/auth/login``): a basic-auth request
    makes CVAT hash the password anew (Django's PBKDF2, about a second of CPU on these
    machines), which would cost more than everything measured here."""
    login = server.client().request(
        "POST", "/api/auth/login", json={"username": server.username, "password": server.password}
    )
    assert login.status_code == 200, login.text
    client = CvatClient(server.url, None)
    client.http.headers["Authorization"] = f"Token {login.json()['key']}"
    return client


def _judged(version: str) -> list[Measured]:
    judge = Judge.for_function(load_spec(FUNCTION_DIR), cvat_version=version)
    measured = []
    for index, answer in enumerate(CORPUS):
        text, content_type = answer.payload()
        body = json.loads(text) if content_type == "application/json" else text
        found = judge.findings(text if isinstance(body, str) else body, image_size=(WIDTH, HEIGHT))
        measured.append(Measured(index, answer, found))
    return measured


def _datumaro_version(server: CvatServer) -> str:
    done = subprocess.run(
        [str(server.venv / "bin" / "python"), "-c",
         "import importlib.metadata as m; print(m.version('datumaro'))"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout.strip()


def _interactive(
    cvat: CvatClient, task: int, position: int, answer: Answer, labels: Any
) -> Outcome:
    reply = cvat.call(FUNCTION, task=task, frame=position)
    ok = reply.status_code == 200
    detail = f"HTTP {reply.status_code}: {reply.text[:300]}"
    return _outcome(not ok, detail, answer, reply.json() if ok else {}, labels)


@pytest.fixture(scope="module")
def run(
    cvat_server: CvatServer, tmp_path_factory: pytest.TempPathFactory, request: Any
) -> Iterator[Run]:
    cvat = _token_client(cvat_server)
    version = str(cvat.request("GET", "/api/server/about").json()["version"])
    measured = _judged(version)
    taken = [m.index for m in measured if m.verdict != "error"]
    refused = [m.index for m in measured if m.verdict == "error"]
    timings: dict[str, float] = {}
    directory = tmp_path_factory.mktemp("verdict-frames")
    begun = time.monotonic()
    with served([FUNCTION_DIR], cvat_server.namespace) as dashboard:
        cvat_server.use_dashboard(dashboard.url)
        try:
            started = time.monotonic()
            task_a = _task(cvat, "corpus: taken", _frames(directory / "a", taken), None)
            task_b = _task(cvat, "corpus: refused", _frames(directory / "b", refused), 1)
            labels = canon.task_labels(cvat.task_labels(task_a))
            labels_b = canon.task_labels(cvat.task_labels(task_b))
            timings["tasks"] = time.monotonic() - started

            # the interactive calls (served by uvicorn) go on while the jobs run (rq worker)
            started = time.monotonic()
            calls: list[tuple[int, Future[Outcome]]] = []
            pool = ThreadPoolExecutor(1)  # one session: requests' Session is not thread-safe
            caller = CvatClient(cvat.url, None)
            caller.http.headers.update(cvat.http.headers)
            for task, indices, known in ((task_a, taken, labels), (task_b, refused, labels_b)):
                for position, index in enumerate(indices):
                    future = pool.submit(_interactive, caller, task, position, CORPUS[index], known)
                    calls.append((index, future))

            state = cvat.auto_annotate(FUNCTION, task_a)
            failed = state["status"] == "failed"
            kept_a = _by_frame(cvat.annotations(task_a)) if not failed else {}
            detail = f"job {state['status']}: {(state.get('exc_info') or '')[-300:]}"
            for position, index in enumerate(taken):
                data = kept_a.get(position, {})
                measured[index].job = _outcome(failed, detail, CORPUS[index], data, labels)
            timings["job over the taken answers"] = time.monotonic() - started

            jobs = cvat.request(
                "GET", "/api/jobs", params={"task_id": task_b, "page_size": 500}
            ).json()["results"]
            by_start = {int(job["start_frame"]): int(job["id"]) for job in jobs}
            assert len(by_start) == len(refused)
            for position, index in enumerate(refused):
                state = cvat.auto_annotate(FUNCTION, task_b, job=by_start[position])
                failed = state["status"] == "failed"
                data = {}
                if not failed:
                    data = _by_frame(cvat.annotations(task_b)).get(position, {})
                detail = f"job {state['status']}: {(state.get('exc_info') or '')[-300:]}"
                measured[index].job = _outcome(failed, detail, CORPUS[index], data, labels_b)
            timings["jobs, one per refused answer"] = time.monotonic() - started
            for index, future in calls:
                measured[index].interactive = future.result()
            pool.shutdown()
            timings["interactive calls and jobs"] = time.monotonic() - started
            for task in (task_a, task_b):
                cvat.delete_task(task)
        finally:
            cvat_server.use_dashboard(None)
    timings["all"] = time.monotonic() - begun
    run = Run(version, _datumaro_version(cvat_server), measured, timings)
    statuses = sorted(
        {m.interactive.detail.split(":")[0] for m in measured if m.interactive is not None}
    )
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        shown = ", ".join(f"{k} {v:.1f}s" for k, v in timings.items())
        print(f"\nverdicts measured on CVAT {version} (datumaro {run.datumaro}): "
              f"{len(measured)} answers, {len(taken)} taken in one job, {len(refused)} refused"
              f" with a job each; interactive answers {', '.join(statuses)}; {shown}",
              file=sys.stderr)  # fmt: skip
    yield run


def _report(disagreements: list[Measured]) -> str:
    return f"{len(disagreements)} disagreement(s):\n" + "\n".join(
        m.describe() for m in disagreements
    )


def test_every_answer_was_measured_both_ways(run: Run) -> None:
    assert len(run.measured) == len(CORPUS) >= 60
    missing = [m for m in run.measured if m.interactive is None or m.job is None]
    assert not missing, _report(missing)


def test_cvat_fails_exactly_when_cvat_fn_says_error(run: Run) -> None:
    wrong = [
        m
        for m in run.judged()
        for outcome in (m.interactive, m.job)
        if outcome is not None and outcome.failed != (m.verdict == "error")
    ]
    assert not wrong, _report(list({id(m): m for m in wrong}.values()))


def test_cvat_keeps_something_else_exactly_when_cvat_fn_says_loss(run: Run) -> None:
    wrong = [
        m
        for m in run.judged()
        if m.verdict != "error"
        for outcome in (m.interactive, m.job)
        if outcome is not None and not outcome.failed and outcome.differs != (m.verdict == "loss")
    ]
    assert not wrong, _report(list({id(m): m for m in wrong}.values()))


LOST_AS = {
    # what the task holds instead -> words the loss's message must use
    "shape": "drop this shape",
    "attribute at its default": "the attribute's default value instead",
    "attribute gone": "drop this attribute",
    "attribute trimmed": "trimmed",
    "element": "drop th",
    "field": "drop this",
    "mask": "this mask",
}


def lost_as(sent: list[str], kept: list[str]) -> set[str]:
    """What became of what was sent, by kind: a shape gone, an attribute at its default, an
    element gone, a field (group, occluded, rotation, outside) reset, a mask redrawn."""
    kinds: set[str] = set()
    sent_items = [json.loads(s) for s in sent]
    kept_items = [json.loads(s) for s in kept]
    for item in sent_items:
        same = [k for k in kept_items if (k["label"], k["type"]) == (item["label"], item["type"])]
        if not same:
            kinds.add("shape")
            continue
        other = same[0]
        for name, value in item["attributes"].items():
            stored = other["attributes"].get(name)
            if name not in other["attributes"]:
                kinds.add("attribute gone")
            elif isinstance(value, str) and stored == value.strip() != value:
                kinds.add("attribute trimmed")
            elif stored != value:
                kinds.add("attribute at its default")
        if item.get("elements") != other.get("elements"):
            kinds.add("element")
        for key in ("group", "occluded", "rotation", "outside"):
            if item.get(key) != other.get(key):
                kinds.add("field")
        if item["type"] == "mask" and item.get("points") != other.get("points"):
            kinds.add("mask")
    return kinds


def test_each_loss_says_what_cvat_keeps_instead(run: Run) -> None:
    wrong = []
    for m in run.judged():
        outcome = m.job
        if m.verdict != "loss" or outcome is None or not outcome.differs:
            continue
        messages = " ".join(f.message for f in m.findings if f.severity == "loss")
        for kind in lost_as(outcome.sent, outcome.kept):
            if LOST_AS[kind] not in messages:
                wrong.append((m, kind))
    assert not wrong, "\n".join(f"[{kind}: {LOST_AS[kind]!r}] {m.describe()}" for m, kind in wrong)


def test_the_datumaro_substitute_stores_an_empty_mask(run: Run) -> None:
    """The datumaro fork CVAT 2.22 pins fails to encode an empty bitmap (cvat-fn: error); the
    datumaro this server runs decides these answers instead. With the
    substitute (datumaro 1.10.0) CVAT stores an empty mask; with any other datumaro, the answer
    is judged like every other."""
    for m in run.measured:
        if m.answer.name not in DATUMARO_DEPENDENT:
            continue
        assert m.verdict == "error", m.describe()
        for outcome in (m.interactive, m.job):
            assert outcome is not None, m.describe()
            if run.datumaro == DATUMARO_SUBSTITUTE:
                assert not outcome.failed, m.describe()
                (kept,) = [json.loads(text) for text in outcome.kept]
                assert kept["type"] == "mask" and not any(kept["points"][:-4]), m.describe()
            else:
                assert outcome.failed, m.describe()


def test_interactor_answers_reach_the_ui_as_sent(
    cvat_server: CvatServer, serve_functions: Any, tmp_path: Path
) -> None:
    """The server's part of an interactor's verdicts: CVAT's interactive call hands the
    function's answer to the UI as it is (views.py ``invoke``: no conversion without an ROI)
    and fails only on what is not JSON (``LambdaGateway._http``: ``reply.json()``, a
    RequestException, so HTTP 500). Everything else cvat-fn says about these answers is the
    UI's part, read from cvat-ui (it cannot be built here)."""
    serve_functions(INTERACTOR_DIR)
    cvat = _token_client(cvat_server)
    frames = []
    for index, answer in enumerate(INTERACTOR):
        path = tmp_path / f"{index:03d}-{answer.name}.png"
        path.write_bytes(frame(index))
        frames.append(path)
    task = _task(cvat, "interactor corpus", frames, None)
    version = str(cvat.request("GET", "/api/server/about").json()["version"])
    judge = Judge.for_function(load_spec(INTERACTOR_DIR), cvat_version=version)
    try:
        for index, answer in enumerate(INTERACTOR):
            text, content_type = answer.payload()
            body = json.loads(text) if content_type == "application/json" else text
            found = judge.findings(text if isinstance(body, str) else body)
            assert {f"{f.severity} {f.code}" for f in found} == answer.expect, answer.name
            reply = cvat.call(
                "corpus-interactor", task=task, frame=index, pos_points=[[30, 30]], neg_points=[]
            )
            if answer.text is not None:
                assert reply.status_code == 500, (answer.name, reply.text)
                assert any("not JSON" in f.message for f in found), answer.name
            else:
                assert reply.status_code == 200, (answer.name, reply.text)
                assert reply.json() == body, answer.name
    finally:
        cvat.delete_task(task)
