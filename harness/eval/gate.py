"""The verdict of an evaluation: minimums, no drop against a baseline, no failed image.

Metric names are eval.json's keys under ``metrics``: ``map``, ``ap50``, ``ap75``,
``precision``, ``recall``, or one label's as ``per_label.NAME.KEY`` (``per_label.face.ap50``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.eval import GateInputError

DEFAULT_MAX_DROP = 0.005
"""Without --max-drop, every metric the baseline has may drop by at most this much."""
HEADLINE = ("map", "ap50", "ap75", "precision", "recall")
PER_LABEL = ("ap", "ap50", "ap75", "precision", "recall", "support")


def skeleton(labels: Sequence[str]) -> dict[str, Any]:
    """The metric names an evaluation over ``labels`` will have (values 0), so a misspelt
    --minimum is refused before any image is sent."""
    per_label = {label: dict.fromkeys(PER_LABEL, 0.0) for label in labels}
    return {**dict.fromkeys(HEADLINE, 0.0), "per_label": per_label}


def parse_pairs(values: Sequence[str], option: str) -> dict[str, float]:
    """``["map=0.3"]`` -> ``{"map": 0.3}``; GateInputError naming the option otherwise."""
    pairs: dict[str, float] = {}
    for value in values:
        name, sep, number = value.partition("=")
        try:
            parsed = float(number)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise GateInputError(f"{option} {value!r}: expected NAME=NUMBER, e.g. ap50=0.5")
        pairs[name.strip()] = parsed
    return pairs


def metric(metrics: Mapping[str, Any], name: str) -> Any:
    """The value at ``name`` (dotted for per-label keys); KeyError when absent."""
    if name in metrics:
        return metrics[name]
    node: Any = metrics
    head, _, rest = name.partition(".")
    if head == "per_label" and rest:
        label, _, key = rest.rpartition(".")
        return metrics["per_label"][label][key]
    for part in name.split("."):
        node = node[part]
    return node


def known_names(metrics: Mapping[str, Any]) -> list[str]:
    names = [k for k in HEADLINE if k in metrics]
    for label, values in (metrics.get("per_label") or {}).items():
        names += [f"per_label.{label}.{key}" for key in values]
    return names


def _check_names(names: Sequence[str], metrics: Mapping[str, Any], option: str) -> None:
    for name in names:
        try:
            value = metric(metrics, name)
        except (KeyError, TypeError):
            value = "absent"
        if value == "absent" or isinstance(value, dict):
            raise GateInputError(
                f"{option} {name}: no such metric (known: {', '.join(known_names(metrics))})"
            )


def read_baseline(path: Path) -> dict[str, Any]:
    """The ``metrics`` of an earlier eval.json (see :func:`baseline_dataset` for its data)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GateInputError(f"--baseline {path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise GateInputError(f"--baseline {path}: not a JSON file ({exc})") from None
    metrics = data.get("metrics") if isinstance(data, dict) else None
    if not isinstance(metrics, dict):
        raise GateInputError(f"--baseline {path}: no 'metrics' object; is it an eval.json?")
    return metrics


def baseline_dataset(path: Path) -> str | None:
    """The dataset fingerprint an earlier eval.json records; None for one that records none
    (written before fingerprints), which is then compared as before."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    dataset = data.get("dataset") if isinstance(data, dict) else None
    value = dataset.get("fingerprint") if isinstance(dataset, dict) else None
    return value if isinstance(value, str) else None


def check_options(
    metrics: Mapping[str, Any],
    minimums: Mapping[str, float],
    baseline: Mapping[str, Any] | None,
    max_drop: Mapping[str, float],
) -> None:
    """GateInputError for a metric name that does not exist (checked before any verdict)."""
    _check_names(list(minimums), metrics, "--minimum")
    if max_drop and baseline is None:
        raise GateInputError("--max-drop needs --baseline OLD/eval.json")
    if baseline is not None:
        _check_names(list(max_drop), metrics, "--max-drop")
        _check_names(list(max_drop), baseline, "--max-drop (in the baseline)")


def _fmt(value: Any) -> str:
    return "none" if value is None else f"{value:.4f}"


def verdict(
    metrics: Mapping[str, Any],
    *,
    failed_images: int,
    images: int,
    minimums: Mapping[str, float],
    baseline: Mapping[str, Any] | None,
    max_drop: Mapping[str, float],
) -> list[str]:
    """Why the model fails, one line per reason; empty when everything holds."""
    reasons: list[str] = []
    if failed_images:
        reasons.append(f"{failed_images} of {images} image(s) failed (see failures in eval.json)")
    for name, minimum in minimums.items():
        value = metric(metrics, name)
        if value is None or value < minimum:
            reasons.append(f"{name} is {_fmt(value)}, below the minimum {minimum:g}")
    if baseline is not None:
        tolerances = dict(max_drop) or {
            name: DEFAULT_MAX_DROP
            for name in HEADLINE
            if isinstance(baseline.get(name), int | float) and name in metrics
        }
        for name, tolerance in tolerances.items():
            old, new = metric(baseline, name), metric(metrics, name)
            if old is None:
                continue
            if new is None or new < old - tolerance - 1e-12:
                reasons.append(
                    f"{name} dropped from {_fmt(old)} (baseline) to {_fmt(new)},"
                    f" more than the {tolerance:g} allowed"
                )
    return reasons
