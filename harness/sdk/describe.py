"""Load a cvat-sdk function in a child process and print what cvat-fn needs of it as JSON.

Run as ``python -m harness.sdk.describe REF [PARAMS_JSON]``: a module that crashes, hangs or
raises while loading (a spec the SDK rejects, say) takes only this process with it. The
output is one JSON object: ``kind``, ``labels`` (CVAT's Nuclio ``spec`` annotation),
``spec`` (the SDK spec as data, for the SDK checks) and ``supported_shape_types``; or
``error`` with the SDK's own message and the traceback.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

from harness.sdk.nuclio_main import dump, function_kind, load_function


def _attributes(owner: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": a.id,
            "name": a.name,
            "input_type": a.input_type.value,
            "values": list(a.values),
        }
        for a in getattr(owner, "attributes", None) or []
    ]


def skeleton_svg(names: list[str]) -> str:
    """A skeleton's drawing for CVAT when the SDK spec has none: its points in a row, in
    the form CVAT's own skeleton functions use (element nodes numbered from 1)."""
    step = 100 / (len(names) + 1)
    return "".join(
        f'<circle r="0.75" cx="{step * (i + 1):.2f}" cy="50" data-type="element node"'
        f' data-element-id="{i + 1}" data-node-id="{i + 1}" data-label-name="{name}"></circle>'
        for i, name in enumerate(names)
    )


def cvat_labels(spec: Any) -> list[dict[str, Any]]:
    """The SDK labels as CVAT's Nuclio ``spec`` annotation lists them."""
    labels = []
    for label in spec.labels:
        item: dict[str, Any] = {
            "id": label.id,
            "name": label.name,
            "type": getattr(label, "type", "any"),
            "attributes": _attributes(label),
        }
        sublabels = getattr(label, "sublabels", None)
        if sublabels:
            item["sublabels"] = [
                {"id": s.id, "name": s.name, "type": "points", "attributes": _attributes(s)}
                for s in sublabels
            ]
            item["svg"] = getattr(label, "svg", None) or skeleton_svg([s.name for s in sublabels])
        labels.append(item)
    return labels


def describe(ref: str, params: dict[str, Any]) -> dict[str, Any]:
    function = load_function(ref, params)
    kind = function_kind(function)
    result: dict[str, Any] = {"kind": kind}
    if kind == "detector":
        result["labels"] = cvat_labels(function.spec)
        result["spec"] = [dump(label) for label in function.spec.labels]
    elif kind == "tracker":
        result["supported_shape_types"] = sorted(function.spec.supported_shape_types)
    else:
        spec = function.spec
        result["interaction"] = {
            "min_pos_points": spec.min_pos_points,
            "min_neg_points": spec.min_neg_points,
            "min_bounding_boxes": spec.min_bounding_boxes,
        }
    for method in {"detector": ("detect",), "tracker": ("init_tracking_state", "track")}.get(
        kind, ("detect",)
    ):
        if not callable(getattr(function, method, None)):
            raise TypeError(f"a {kind} function needs a {method}() method")
    return result


def main(argv: list[str]) -> int:
    ref = argv[0]
    params = json.loads(argv[1]) if len(argv) > 1 else {}
    try:
        result = describe(ref, params)
    except BaseException as exc:  # anything the module does while loading is its verdict
        result = {
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
        }
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
