"""The suite's ``accuracy[dataset]`` item: ``cvat-fn eval``'s verdict on the function the
suite already started (reached through the url runner, so it is not started twice)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.suite.checks import CheckFailed, NotApplicable
from harness.suite.checks.target import Target


@dataclass
class DatasetOptions:
    """``--dataset`` and its gate, as given to pytest."""

    path: Path
    report_dir: Path
    minimums: dict[str, float] = field(default_factory=dict)
    baseline: Path | None = None
    max_drop: dict[str, float] = field(default_factory=dict)


def check_dataset(target: Target, options: DatasetOptions) -> dict:
    """Run the evaluation; CheckFailed with every reason when the model fails."""
    from harness.eval import DatasetError, GateInputError
    from harness.eval.session import EvalOptions, run_eval

    if target.kind != "detector":
        raise NotApplicable(f"--dataset scores detectors; this function is a {target.kind}")
    try:
        result = run_eval(
            EvalOptions(
                function_dir=target.spec.directory,
                dataset=options.path,
                report_dir=options.report_dir,
                runtime="url",
                url=target.url,
                cvat_version=target.config.cvat_version,
                minimums=options.minimums,
                baseline=options.baseline,
                max_drop=options.max_drop,
                show_progress=False,
            )
        )
    except (DatasetError, GateInputError) as exc:
        raise CheckFailed(str(exc)) from None
    doc = result.document
    metrics = doc["metrics"]
    headline = ", ".join(
        f"{k} {metrics[k]:.4f}" for k in ("map", "ap50", "ap75") if metrics.get(k) is not None
    )
    if result.reasons:
        raise CheckFailed(
            f"on {options.path} ({doc['images']} images): {headline}\n"
            + "\n".join(result.reasons)
            + f"\nreport: {options.report_dir / 'eval.html'}"
        )
    return doc
