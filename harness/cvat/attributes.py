"""A detector shape's ``attributes``, judged as CVAT's lambda manager judges them.

cvat-ai/cvat ``cvat/apps/lambda_manager/views.py`` (``LambdaFunction.invoke``, its inner
``transform_attributes`` and ``check_attr_value``): each answered attribute is looked up by
name among the attributes the function declared for that label (and the task has); an
undeclared one is dropped without a word. Its value is then tested against the task's
attribute, assumed here to be the one the function declares (the usual task made from the
function's labels):

- ``number``: since 2.35 ``int(value)`` (a ValueError drops it: "3.5"; any other exception
  fails the request), then ``min <= n <= max`` and ``(n - min) % step == 0`` with the
  attribute's values read as ``map(int, values.split("\n"))`` (values that are not three
  whole numbers fail every answer that sends the attribute); before 2.35
  ``value.isnumeric()``: whole, non-negative digits only, no range test;
- ``checkbox``: exactly ``"true"`` or ``"false"``;
- ``text``: anything;
- ``select`` / ``radio``: ``value in db_attr["values"]``, where ``values`` is the database
  column, the values joined by newlines: a substring test, so "ca" passes for "cat";
- any other input type: dropped.

A value CVAT drops is not simply absent afterwards: the task's shape carries the
attribute's default value (measured on CVAT 2.73.0, tests/cvat_server/test_verdicts.py;
``dataset_manager/task.py`` fills every attribute of the label in), while the interactive
call answers without it. A select/radio value that is not a string breaks ``in`` and fails
the request; a missing
``name`` or ``value`` fails it too (``KeyError``); an empty ``attributes`` ("", [], {})
is iterated as nothing. What survives is stored as text (``engine/serializers.py``,
``AttributeValSerializer``: ``str(value)`` into a DRF ``CharField``, which since 2.35 fails
the request on NUL or lone surrogate characters or more than 4096 characters, and trims
surrounding whitespace first).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.cvat.findings import NUMBER_BY_INT_SINCE, Collector

INPUT_TYPES = ("number", "checkbox", "text", "select", "radio")
MAX_VALUE_LENGTH = 4096
"""engine/serializers.py ``AttributeValSerializer.value``: ``CharField(max_length=4096)``;
an auto-annotation job's answers pass that serializer with ``raise_exception=True``."""


def describe(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "null"
    return f"{type(value).__name__} {value!r}"


def _number_range(values: Any) -> tuple[float, float] | None:
    """A number attribute's ``values`` are ``[min, max, step]`` (as text)."""
    try:
        low, high = float(values[0]), float(values[1])
    except (TypeError, ValueError, IndexError, KeyError):
        return None
    return low, high


def number_bounds(values: Any) -> tuple[int, int, int] | None:
    """``map(int, db_attr["values"].split("\n"))`` unpacked into min, max, step."""
    joined = "\n".join(str(v) for v in values) if isinstance(values, list) else str(values)
    try:
        low, high, step = map(int, joined.split("\n"))
    except ValueError:
        return None
    return low, high, step


def _check_number(c: Collector, where: str, name: str, value: Any, values: Any) -> None:
    """views.py ``check_attr_value`` since 2.35 (see the module docstring)."""
    drop = f"CVAT will store the attribute's default value instead of {name}="
    bounds = number_bounds(values)
    if bounds is None:
        c.error(
            where,
            f"the attribute {name!r} declares values {values!r}: CVAT reads a number"
            " attribute's values as three whole numbers (min, max, step) and fails the"
            " request on anything else",
            "attr.spec",
        )
        return
    low, high, step = bounds
    try:
        number = int(value)
    except ValueError:
        c.loss(
            where,
            f"{drop}{describe(value)}: CVAT keeps a number attribute only when int(value)"
            ' reads it (a whole number: "3", "-1"; not "3.5")',
            "attr.value",
        )
        return
    except Exception as exc:  # what int() raises on it, CVAT raises too
        c.error(
            where,
            f"{name}={describe(value)}: CVAT calls int(value) on it, which raises"
            f' {type(exc).__name__}, and fails the request; send the number as text ("3")',
            "attr.value-type",
        )
        return
    if not low <= number <= high:  # tested first: `a and b` never reaches % step
        c.loss(where, f"{drop}{describe(value)}: outside the declared {low}..{high}", "attr.range")
    elif step == 0:
        c.error(
            where,
            f"the attribute {name!r} declares step 0: CVAT computes (n - min) % step and"
            " fails the request",
            "attr.spec",
        )
    elif (number - low) % step:
        c.loss(
            where,
            f"{drop}{describe(value)}: not on the declared step {step} from {low}",
            "attr.range",
        )
    elif not isinstance(value, str):
        c.warn(
            where,
            f"{describe(value)} passes int() but CVAT stores str(value) ({str(value)!r});"
            " send the number as text",
            "attr.value-type",
        )


def _check_number_before_2_35(c: Collector, where: str, name: str, value: Any, values: Any) -> None:
    """views.py ``check_attr_value`` before 2.35: ``value.isnumeric()``, no range test."""
    drop = f"CVAT will store the attribute's default value instead of {name}="
    if not isinstance(value, str):
        c.error(
            where,
            f"{name}={describe(value)} is not text: CVAT calls value.isnumeric() on it and"
            ' fails the request; send the number as a string ("3")',
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


def _check_stored(c: Collector, where: str, name: str, value: Any, text_type: bool) -> None:
    """engine/serializers.py ``AttributeValSerializer``: ``str(value)`` into
    ``CharField(max_length=4096, allow_blank=True)``, whose defaults refuse NUL and lone
    surrogate characters (failing the request) and trim surrounding whitespace before the
    length is measured. An auto-annotation job's answers have passed it with
    ``raise_exception=True`` since lambda functions came to CVAT (PR #1767; since 2.35
    through ``DetectionResultConverter.convert``)."""
    text = str(value)
    if "\x00" in text:
        c.error(
            where,
            "contains a NUL character (\\x00): CVAT's AttributeValSerializer refuses it"
            ' ("Null characters are not allowed") and fails the request',
            "attr.value",
        )
        return
    surrogates = [ch for ch in text if "\ud800" <= ch <= "\udfff"]
    if surrogates:
        c.error(
            where,
            f"contains the lone surrogate U+{ord(surrogates[0]):04X}: CVAT's"
            " AttributeValSerializer refuses it and fails the request",
            "attr.value",
        )
        return
    stored = text.strip()
    if len(stored) > MAX_VALUE_LENGTH:
        c.error(
            where,
            f"{len(stored)} characters: CVAT's AttributeValSerializer takes at most"
            f" {MAX_VALUE_LENGTH} and fails the request",
            "attr.value",
        )
    elif stored != text:
        shown = stored if len(stored) <= 40 else stored[:37] + "..."
        if text_type:
            c.loss(
                where,
                f"CVAT will store this attribute trimmed: {name}={_short(text)} is stored as"
                f" {shown!r} (its serializer trims surrounding whitespace)",
                "attr.value",
            )
        else:
            c.warn(
                where,
                f"{name}={_short(text)} is stored as {shown!r}: CVAT's serializer trims"
                " surrounding whitespace",
                "attr.value",
            )


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


def _check_value(
    c: Collector, where: str, name: str, value: Any, declared: Mapping[str, Any]
) -> None:
    before = len(c.findings)
    _check_kept(c, where, name, value, declared)
    if not any(f.severity in ("error", "loss") for f in c.findings[before:]):
        _check_stored(c, where, name, value, declared.get("input_type") == "text")


def _check_kept(
    c: Collector, where: str, name: str, value: Any, declared: Mapping[str, Any]
) -> None:
    """views.py ``check_attr_value``: whether CVAT keeps the value at all."""
    input_type = declared.get("input_type")
    values = declared.get("values") or []
    drop = f"CVAT will store the attribute's default value instead of {name}="
    if input_type == "number":
        if c.version >= NUMBER_BY_INT_SINCE:
            _check_number(c, where, name, value, values)
        else:
            _check_number_before_2_35(c, where, name, value, values)
    elif input_type == "checkbox":
        if value not in ("true", "false"):
            c.loss(
                where,
                f'{drop}{describe(value)}: a checkbox keeps only "true" or "false"',
                "attr.value",
            )
    elif input_type == "text":
        if not isinstance(value, str):
            stored = _short(str(value))
            c.warn(where, f"{describe(value)} is stored as its text ({stored})", "attr.value-type")
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
    if isinstance(value, Mapping | str | list) and not value:
        return  # views.py transform_attributes iterates it as nothing
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
        if isinstance(name, list | dict):
            # transform_attributes: `attr["name"] not in attr_mapping` raises TypeError
            c.error(
                f"{at}.name",
                f"{describe(name)} is not text: CVAT looks it up in a dict and fails the request",
                "attr.form",
            )
            continue
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
