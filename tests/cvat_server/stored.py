"""What a detector answer is, as sent and as CVAT keeps it, in one comparable form.

The differential test (test_verdicts.py) compares the two: they differ exactly when cvat-fn
says CVAT loses something. Normalised away is only what CVAT always changes and cvat-fn
never reports: ids, ``source`` ("auto"), ``frame``, scores (CVAT stores no
confidence), the order of shapes, a number's spelling (``3``, ``"3"``, ``" 3 "`` are one
number; views.py reads them with ``int()``), the run-length encoding of a mask (decoded
over its box, as cvat-core's ``rle2Mask`` does; a bitmap's non-zero values as set pixels,
as datumaro's ``mask_to_rle`` reads a two-valued bitmap), attributes left at their default
value that the answer did not send (task.py ``_extend_attributes`` fills every attribute
in), and the outside points CVAT adds for sublabels the answer did not send (views.py
``_parse_anno``; cvat-fn's ``skeleton.missing-element`` warning says so).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.cvat.detector import drf_boolean, drf_integer

DIGITS = 3


@dataclass
class Attr:
    name: str
    input_type: str
    default: str


@dataclass
class TaskLabel:
    """A task's label as CVAT created it: ids for reading what it stores."""

    id: int
    name: str
    type: str
    attributes: dict[int, Attr] = field(default_factory=dict)
    sublabels: dict[int, TaskLabel] = field(default_factory=dict)

    def by_name(self, name: str) -> Attr | None:
        return next((a for a in self.attributes.values() if a.name == name), None)


def task_labels(raw: Iterable[Mapping[str, Any]]) -> dict[int, TaskLabel]:
    """``GET /api/labels?task_id=`` results (sublabels nested or listed with ``parent_id``)."""
    labels: dict[int, TaskLabel] = {}
    for item in raw:
        label = TaskLabel(int(item["id"]), str(item["name"]), str(item.get("type") or "any"))
        for a in item.get("attributes") or ():
            label.attributes[int(a["id"])] = Attr(
                str(a["name"]), str(a["input_type"]), str(a.get("default_value", ""))
            )
        label.sublabels = task_labels(item.get("sublabels") or ())
        labels[label.id] = label
    return labels


def _points(values: Any) -> list[float] | Any:
    try:
        return [round(float(v), DIGITS) for v in values]
    except (TypeError, ValueError):
        return values


def _number(value: Any) -> Any:
    try:
        return int(str(value).strip())
    except ValueError:
        return str(value)


def _value(attr: Attr | None, value: Any) -> Any:
    if attr is not None and attr.input_type == "number":
        return _number(value)
    return str(value)


def rle_to_bitmap(counts: list[float], width: int, height: int) -> list[int]:
    """cvat-core ``rle2Mask``: runs over the box, the first of 0s, cut or padded to its area."""
    bits: list[int] = []
    value = 0
    for run in counts:
        bits.extend([value] * int(run))
        value = 1 - value
    area = width * height
    return (bits + [0] * area)[:area]


def _mask_as_sent(mask: list[Any]) -> list[Any]:
    return [int(bool(v)) for v in mask[:-4]] + _points(mask[-4:])


def _mask_as_stored(points: list[Any]) -> list[Any]:
    xtl, ytl, xbr, ybr = points[-4:]
    width = int(math.floor(xbr) - math.floor(xtl) + 1)
    height = int(math.floor(ybr) - math.floor(ytl) + 1)
    return rle_to_bitmap(points[:-4], width, height) + _points(points[-4:])


# --- as sent ----------------------------------------------------------------------------------


def sent(answer: Any, labels: Mapping[str, TaskLabel]) -> list[str]:
    """The answer's shapes and tags as the function meant them (``labels``: the task's labels
    by name, for attribute input types), each a canonical JSON text; sorted."""
    items = answer if isinstance(answer, list) else []
    return sorted(json.dumps(_sent_item(item, labels), sort_keys=True) for item in items)


def _sent_attributes(item: Mapping[str, Any], label: TaskLabel | None) -> dict[str, Any]:
    out = {}
    for a in item.get("attributes") or ():
        if isinstance(a, Mapping) and "name" in a:
            declared = label.by_name(a["name"]) if label else None
            out[str(a["name"])] = _value(declared, a.get("value"))
    return out


def _sent_item(
    item: Any, labels: Mapping[str, TaskLabel], parent: TaskLabel | None = None
) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        return {"item": repr(item)}
    name = item.get("label")
    pool = {s.name: s for s in parent.sublabels.values()} if parent else labels
    label = pool.get(name) if isinstance(name, str) else None
    type_ = str(item.get("type", ""))
    type_ = "tag" if type_.lower() == "tag" else type_
    out: dict[str, Any] = {
        "label": name if isinstance(name, str) else repr(name),
        "type": type_,
        "attributes": _sent_attributes(item, label),
        "group": drf_integer(item.get("group_id", item.get("group"))) or 0,
        "outside": bool(drf_boolean(item.get("outside", False))),
        "occluded": bool(drf_boolean(item.get("occluded", False))),
    }
    if type_ == "tag":
        return out
    out["rotation"] = round(float(item.get("rotation", 0) or 0), DIGITS)
    out["z_order"] = drf_integer(item.get("z_order")) or 0
    if type_ == "mask" and isinstance(item.get("mask"), list):
        out["points"] = _mask_as_sent(item["mask"])
    else:
        out["points"] = _points(item.get("points", []))
    if "elements" in item or type_ == "skeleton":
        out["elements"] = sorted(
            (_sent_item(e, labels, label) for e in item.get("elements") or ()),
            key=lambda e: json.dumps(e, sort_keys=True),
        )
    return out


# --- as stored ----------------------------------------------------------------------------


def stored(
    data: Mapping[str, Any], labels: Mapping[int, TaskLabel], sent_items: Iterable[str] = ()
) -> list[str]:
    """What CVAT answered or stored (``{"tags", "shapes"}`` with label and spec ids), in the
    form of :func:`sent`; ``sent_items``: that answer, for the attributes and elements it
    sent (the others CVAT fills in with defaults)."""
    sent_attrs: set[str] = set()
    sent_elements: set[str] = set()
    for text in sent_items:
        _collect(json.loads(text), sent_attrs, sent_elements)
    out = []
    for tag in data.get("tags") or ():
        out.append(_stored_item(tag, "tag", labels, sent_attrs, sent_elements))
    for shape in data.get("shapes") or ():
        out.append(_stored_item(shape, shape["type"], labels, sent_attrs, sent_elements))
    return sorted(json.dumps(item, sort_keys=True) for item in out)


def _collect(item: Mapping[str, Any], attrs: set[str], elements: set[str]) -> None:
    attrs.update(item.get("attributes", {}))
    for e in item.get("elements", ()):
        elements.add(str(e.get("label")))
        attrs.update(e.get("attributes", {}))


def _stored_item(
    shape: Mapping[str, Any],
    type_: str,
    labels: Mapping[int, TaskLabel],
    sent_attrs: set[str],
    sent_elements: set[str],
) -> dict[str, Any]:
    label = labels[int(shape["label_id"])]
    attributes = {}
    for a in shape.get("attributes") or ():
        declared = label.attributes.get(int(a["spec_id"]))
        name = declared.name if declared else f"#{a['spec_id']}"
        if name in sent_attrs or declared is None or a["value"] != declared.default:
            attributes[name] = _value(declared, a["value"])
    out: dict[str, Any] = {
        "label": label.name,
        "type": type_,
        "attributes": attributes,
        "group": shape.get("group") or 0,
        "outside": bool(shape.get("outside", False)),
        "occluded": bool(shape.get("occluded", False)),
    }
    if type_ == "tag":
        return out
    out["rotation"] = round(float(shape.get("rotation") or 0), DIGITS)
    out["z_order"] = shape.get("z_order") or 0
    points = list(shape.get("points") or [])
    out["points"] = _mask_as_stored(points) if type_ == "mask" else _points(points)
    if type_ == "skeleton" or shape.get("elements"):
        elements = [
            _stored_item(e, e["type"], label.sublabels, sent_attrs, sent_elements)
            for e in shape.get("elements") or ()
        ]
        out["elements"] = sorted(
            (e for e in elements if e["label"] in sent_elements or not e["outside"]),
            key=lambda e: json.dumps(e, sort_keys=True),
        )
    return out
