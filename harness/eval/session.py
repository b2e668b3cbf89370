"""One evaluation from start to verdict, shared by ``cvat-fn eval`` and the pytest plugin:
open the export, start the function (any runner), stream the images through it, score,
judge, write eval.json, eval.html and the function's log."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.cvat import CVAT_VERSION
from harness.cvat.client import DEFAULT_TIMEOUT_S, FunctionClient
from harness.eval import GateInputError
from harness.eval.dataset import DatasetImage, fingerprint, open_dataset
from harness.eval.gate import (
    baseline_dataset,
    check_options,
    read_baseline,
    skeleton,
    verdict,
)
from harness.eval.metrics import Evaluation, LabelMap, Scored, evaluate, label_counts
from harness.eval.runner import ANSWERS_FILE, Answer, function_version, run_images
from harness.nuclio.runners import make_runner
from harness.nuclio.spec import FunctionSpec, load_spec
from harness.output.stats import percentile

EVAL_FORMAT = "cvat-fn-eval"
# Requests sent ahead wait at the function for a worker; only while an answer takes under
# this share of the worker availability timeout, past which Nuclio answers 503.
WAIT_SHARE = 4


@dataclass
class EvalOptions:
    function_dir: Path
    dataset: Path
    report_dir: Path
    runtime: str = "process"
    url: str | None = None
    base_image: str | None = None
    dashboard: str | None = None
    function_name: str | None = None
    namespace: str = "nuclio"
    threshold: float | None = None
    concurrency: int | None = None
    resume: bool = False
    minimums: dict[str, float] = field(default_factory=dict)
    baseline: Path | None = None
    max_drop: dict[str, float] = field(default_factory=dict)
    cvat_version: str = CVAT_VERSION
    timeout: float = DEFAULT_TIMEOUT_S
    show_progress: bool = True
    html: bool = True


@dataclass
class EvalResult:
    document: dict[str, Any]
    reasons: list[str]
    written: list[Path]

    @property
    def passed(self) -> bool:
        return not self.reasons


def _say(message: str) -> None:
    print(f"cvat-fn eval: {message}", file=sys.stderr, flush=True)


def _progress_bar(total: int, enabled: bool) -> tuple[Callable[[Answer], None], Callable[[], None]]:
    """tqdm on stderr: images/s and ETA; failed images counted in its postfix."""
    from tqdm import tqdm

    bar = tqdm(total=total, unit="img", desc="eval", file=sys.stderr, disable=not enabled)
    failed = 0

    def step(answer: Answer) -> None:
        nonlocal failed
        if answer.error:
            failed += 1
            bar.set_postfix(failed=failed, refresh=False)
        bar.update(1)

    return step, bar.close


def run_eval(options: EvalOptions) -> EvalResult:
    """Everything ``cvat-fn eval`` does; raises DatasetError/GateInputError/SpecError for bad
    input (exit 2) and StartError when the function does not start."""
    spec: FunctionSpec = load_spec(options.function_dir)
    if spec.kind not in (None, "detector"):
        raise GateInputError(
            f"{spec.path}: type {spec.kind!r}; cvat-fn eval scores detectors (CVAT's"
            " auto-annotation)"
        )
    baseline = read_baseline(options.baseline) if options.baseline else None
    if options.max_drop and baseline is None:
        raise GateInputError("--max-drop needs --baseline OLD/eval.json")
    concurrency = spec.num_workers if options.concurrency is None else options.concurrency
    if concurrency < 1:
        raise GateInputError(f"--concurrency {concurrency}: must be at least 1")
    with open_dataset(options.dataset) as dataset:
        labels = LabelMap.between(dataset.labels, spec.label_names)
        check_options(skeleton(labels.matched), options.minimums, baseline, options.max_drop)
        runner = make_runner(
            options.runtime,
            url=options.url,
            base_image=options.base_image,
            dashboard=options.dashboard,
            function_name=options.function_name,
            namespace=options.namespace,
        )
        _say(f"{dataset.path}: {dataset.format}, {len(dataset)} image(s)")
        data_id = fingerprint(dataset)
        compared = _compare_with_baseline(options, data_id) if baseline is not None else None
        if labels.dataset_only or labels.function_only:
            _say(
                f"labels scored: {', '.join(labels.matched) or 'none'}; only in the dataset:"
                f" {', '.join(labels.dataset_only) or 'none'}; only in the function:"
                f" {', '.join(labels.function_only) or 'none'}"
            )
        version = function_version(spec.directory, exclude=[options.report_dir])
        _say(f"starting {spec.name} with the {options.runtime} runner ...")
        started = time.monotonic()
        running = runner.start(spec.directory, spec)
        _say(
            f"ready in {running.ready_seconds:.2f} s; {concurrency} request(s) in flight"
            f" and {concurrency} waiting for a worker"
        )
        options.report_dir.mkdir(parents=True, exist_ok=True)
        scored: list[Scored] = []
        answers: dict[str, Answer] = {}
        step, close = _progress_bar(len(dataset), options.show_progress)
        run_started = time.monotonic()
        try:

            def make_client() -> FunctionClient:
                return FunctionClient.for_function(
                    running.url,
                    spec,
                    kind="detector",
                    cvat_version=options.cvat_version,
                    timeout=options.timeout,
                )

            def on_answer(image: DatasetImage, answer: Answer) -> None:
                answers[image.name] = answer
                scored.append(Scored(image, answer.shape_objects(), failed=bool(answer.error)))
                step(answer)

            run_images(
                dataset.images,
                make_client,
                version=version,
                threshold=options.threshold,
                concurrency=concurrency,
                # as many again wait at the function, so a worker never waits for the client
                waiting=concurrency,
                workers=spec.num_workers,
                wait_if_faster_than=spec.worker_availability_timeout / WAIT_SHARE,
                answers_path=options.report_dir / ANSWERS_FILE,
                resume=options.resume,
                on_answer=on_answer,
            )
            elapsed = time.monotonic() - run_started  # the images only, not stopping
        finally:
            close()
            log_path = options.report_dir / "function.log"
            log_path.write_text(running.logs.text() + "\n", encoding="utf-8")
            running.stop()
        scored.sort(key=lambda item: item.image.name)
        evaluation = evaluate(scored, labels)
        minimums, max_drop = options.minimums, options.max_drop
        failed = [a for a in answers.values() if a.error]
        reasons = verdict(
            evaluation.metrics,
            failed_images=len(failed),
            images=len(scored),
            minimums=minimums,
            baseline=baseline if compared else None,
            max_drop=max_drop if compared else {},
        )
        document = _document(
            options, spec, version, dataset.format, labels, label_counts(dataset.images),
            evaluation, answers, concurrency, elapsed, time.monotonic() - started, reasons,
        )  # fmt: skip
        document["dataset"]["fingerprint"] = data_id
        if options.baseline is not None:
            document["baseline"] = {"path": str(options.baseline), "compared": bool(compared)}
        written = [options.report_dir / "eval.json", log_path]
        written[0].write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        if options.html:
            from harness.eval.report import write_html

            written.append(
                write_html(document, evaluation, scored, options.report_dir / "eval.html")
            )
    return EvalResult(document, reasons, written)


def _compare_with_baseline(options: EvalOptions, data_id: str) -> bool:
    """Drops are measured only against a baseline of the same data: one whose eval.json
    records another dataset fingerprint says so and is not compared (minimums still hold)."""
    assert options.baseline is not None
    recorded = baseline_dataset(options.baseline)
    if recorded is None or recorded == data_id:
        return True
    _say(
        f"baseline {options.baseline} was measured on other data (dataset {recorded}, now"
        f" {data_id}): drops are not compared; this run's eval.json is a baseline for the next"
    )
    return False


def _document(
    options: EvalOptions,
    spec: FunctionSpec,
    version: str,
    fmt: str,
    labels: LabelMap,
    truth_counts: dict[str, int],
    evaluation: Evaluation,
    answers: dict[str, Answer],
    concurrency: int,
    elapsed: float,
    total: float,
    reasons: list[str],
) -> dict[str, Any]:
    ordered = sorted(answers.values(), key=lambda a: a.name)
    sent = [a.latency_ms for a in ordered if not a.reused and a.status is not None]
    latency = {f"p{q}": round(percentile(sent, q), 3) for q in (50, 95, 99)} if sent else {}
    return {
        "format": EVAL_FORMAT,
        "images": len(ordered),
        "failed_images": sum(1 for a in ordered if a.error),
        "metrics": evaluation.metrics,
        "verdict": "passed" if not reasons else "failed",
        "reasons": reasons,
        "function": {
            "name": spec.name,
            "directory": str(spec.directory),
            "version": version,
            "runtime": options.runtime,
            "labels": spec.label_names,
        },
        "dataset": {"path": str(options.dataset), "format": fmt},
        "labels": {
            "scored": labels.matched,
            "dataset_only": {name: truth_counts.get(name, 0) for name in labels.dataset_only},
            "function_only": labels.function_only,
        },
        "not_scored": evaluation.not_scored,
        "threshold": options.threshold,
        "cvat_version": options.cvat_version,  # the CVAT release the answers were judged for
        "concurrency": concurrency,
        "sent": sum(1 for a in ordered if not a.reused),
        "reused": sum(1 for a in ordered if a.reused),
        "seconds": round(elapsed, 3),
        "total_seconds": round(total, 3),
        "images_per_s": round(len(sent) / elapsed, 3) if elapsed > 0 and sent else None,
        "latency_ms": latency,
        "failures": [{"image": a.name, "error": a.error} for a in ordered if a.error],
        "per_image": [
            {
                "name": a.name,
                "errors": evaluation.image_errors.get(a.name, 0),
                "latency_ms": round(a.latency_ms, 3),
                "reused": a.reused,
                "shapes": a.shapes,
            }
            for a in ordered
        ],
    }
