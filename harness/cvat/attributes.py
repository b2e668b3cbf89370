"""A detector shape's ``attributes``, judged as CVAT's lambda manager judges them.

cvat-ai/cvat ``cvat/apps/lambda_manager/views.py`` (``LambdaFunction.invoke``, its inner
``transform_attributes`` and ``check_attr_value``): each answered attribute is looked up by
name among the attributes the function declared for that label (and the task has); an
undeclared one is dropped without a word. Its value is then tested against the task's
attribute, assumed here to be the one the function declares (the usual task made from the
function's labels):

- ``number``: ``value.isnumeric()``: whole, non-negative digits only ("3.5", "-1" dropped);
- ``checkbox``: exactly ``"true"`` or ``"false"``;
- ``text``: anything;
- ``select`` / ``radio``: ``value in db_attr["values"]``, where ``values`` is the database
  column, the values joined by newlines: a substring test, so "ca" passes for "cat";
- any other input type: dropped.

A value that is not a string breaks ``isnumeric()`` / ``in`` and fails the request; a missing
``name`` or ``value`` fails it too (``KeyError``). What survives is stored as text
(``engine/serializers.py``, ``AttributeValSerializer.to_internal_value``: ``str(value)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.cvat.findings import Collector

INPUT_TYPES = ("number", "checkbox", "text", "select", "radio")


def describe(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return f"{type(value).__name__} {value!r}"


def _number_range(values: Any) -> tuple[float, float] | None:
    """A number attribute's ``values`` are ``[min, max, step]`` (as text)."""
    try:
        low, high = float(values[0]), float(values[1])
    except (TypeError, ValueError, IndexError, KeyError):
        return None
    return low, high


def _check_value(
    c: Collector, where: str, name: str, value: Any, declared: Mapping[str, Any]
) -> None:
    input_type = declared.get("input_type")
    values = declared.get("values") or []
    drop = f"CVAT will drop this attribute: {name}="
    if input_type == "number":
        if not isinstance(value, str):
            c.error(
                where,
                f"{describe(value)} is not text: CVAT calls value.isnumeric() on it and fails"
                ' the request; send the number as a string ("3")',
                "attr.value-type",
            )
        elif not value.isnumeric():
            c.loss(
                where,
                f"{drop}{value!r}: CVAT keeps a number attribute only when str.isnumeric()"
                " holds (whole, non-negative digits: no sign, no decimal point)",
                "attr.value",
            )
        else:
            bounds = _number_range(values)
            if bounds is not None and not bounds[0] <= float(value) <= bounds[1]:
                c.warn(
                    where,
                    f"{name}={value!r} lies outside the declared range"
                    f" {bounds[0]:g}..{bounds[1]:g}: CVAT stores it unchecked",
                    "attr.range",
                )
    elif input_type == "checkbox":
        if value not in ("true", "false"):
            c.loss(
                where,
                f'{drop}{describe(value)}: a checkbox keeps only "true" or "false"',
                "attr.value",
            )
    elif input_type == "text":
        if not isinstance(value, str):
            c.warn(where, f"{describe(value)} is stored as its text", "attr.value-type")
    elif input_type in ("select", "radio"):
        joined = "\n".join(str(v) for v in values)
        if not isinstance(value, str):
            c.error(
                where,
                f"{describe(value)} is not text: CVAT tests `value in values` on a string and"
                " fails the request",
                "attr.value-type",
            )
        elif value not in joined:
            listed = ", ".join(repr(str(v)) for v in values)
            c.loss(
                where,
                f"{drop}{value!r}: not one of the {input_type} values ({listed})",
                "attr.value",
            )
        elif value not in [str(v) for v in values]:
            c.warn(
                where,
                f"{value!r} is not one of the {input_type} values, but CVAT tests a substring"
                " of the values joined by newlines and stores it: the task then holds a value"
                " its attribute does not offer",
                "attr.value",
            )
    else:
        c.loss(
            where,
            f"{drop}{describe(value)}: its declared input_type {input_type!r} is none CVAT"
            f" checks ({', '.join(INPUT_TYPES)})",
            "attr.value",
        )


def _declared(label: Any | None, name: Any) -> Mapping[str, Any] | None:
    for attr in getattr(label, "attributes", None) or ():
        if isinstance(attr, Mapping) and attr.get("name") == name:
            return attr
    return None


def check_attributes(c: Collector, where: str, value: Any, label: Any | None) -> None:
    """``label``: the declared label (``.name``, ``.attributes``), or None when the
    function's labels are unknown or the label is not among them."""
    if isinstance(value, Mapping) and not value:
        return  # iterated as nothing
    if not isinstance(value, list):
        c.error(
            where,
            f'must be a list of {{"name", "value"}} objects, got {type(value).__name__}: CVAT'
            " iterates it and fails the request",
            "attr.form",
        )
        return
    for k, attr in enumerate(value):
        at = f"{where}[{k}]"
        if not isinstance(attr, Mapping):
            c.error(at, f'must be a {{"name", "value"}} object, got {attr!r}', "attr.form")
            continue
        if "name" not in attr:
            c.error(f"{at}.name", "missing: CVAT reads every attribute's name, fails", "attr.form")
            continue
        name = attr["name"]
        declared = _declared(label, name)
        if label is not None and declared is None:
            c.loss(
                f"{at}.name",
                f"CVAT will drop this attribute: {name!r} is not declared for label"
                f" {label.name!r} in the function's spec",
                "attr.unknown",
            )
            continue
        if "value" not in attr:
            c.error(f"{at}.value", "missing: CVAT reads it and fails the request", "attr.form")
            continue
        if declared is None:
            if not isinstance(attr["value"], str):
                c.warn(
                    f"{at}.value",
                    f"{describe(attr['value'])}: CVAT tests values as text; send a string",
                    "attr.value-type",
                )
            continue
        _check_value(c, f"{at}.value", str(name), attr["value"], declared)
