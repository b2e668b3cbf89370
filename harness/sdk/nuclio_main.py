"""Nuclio entry point for a cvat-sdk auto-annotation function: CVAT's Nuclio requests in,
the SDK function called with cvat-sdk context objects, CVAT's Nuclio answers out.

This file stands alone (standard library, cvat-sdk and Pillow only): ``cvat-fn export-nuclio``
copies it as ``main.py`` beside the function's module, and cvat-fn runs the same file behind
its runtime when testing the module itself. It follows, at cvat-sdk/cvat-cli 2.80.0:

- ``cvat_cli/_internal/common.py`` ``FunctionLoader.load`` and ``parsers.py``
  ``parse_function_parameter``: how a module or file is loaded and ``create(**params)`` called;
- ``cvat_sdk/auto_annotation/driver.py`` ``annotate_task``: the detection context
  (frame name, ``conf_threshold``, ``conv_mask_to_poly``);
- ``cvat_cli/_internal/agent_driver_tracking.py`` ``_worker_job_init_tracking`` /
  ``_worker_job_track``: states kept per shape with the original type and image size, a frame
  of another size refused, an answer of another type refused.

Where the agent keeps tracking states in the worker's memory, a Nuclio function may run on any
worker, so a state travels through CVAT (which hands it back verbatim) as a signed pickle.

Environment (function.yaml ``spec.env``): ``CVAT_FN_SDK_FUNCTION`` (a ``.py`` path relative to
this file, or ``module`` / ``module:create``), ``CVAT_FN_SDK_PARAMS`` (JSON object for
``create``), ``CVAT_FN_SDK_STATE_KEY`` (signs tracking states), ``CVAT_FN_SDK_HARNESS=1``
(under cvat-fn: answers its probe requests). An annotation it cannot convert fails the request
with cvat-sdk's ``BadFunctionError`` message, under cvat-fn exactly as in the export.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import importlib.util
import io
import json
import math
import os
import pickle
import sys
from typing import Any

import cvat_sdk.auto_annotation as cvataa
from cvat_sdk import models
from PIL import Image

ENV_FUNCTION = "CVAT_FN_SDK_FUNCTION"
ENV_PARAMS = "CVAT_FN_SDK_PARAMS"
ENV_STATE_KEY = "CVAT_FN_SDK_STATE_KEY"
ENV_HARNESS = "CVAT_FN_SDK_HARNESS"
ENV_SYS_PATH = "CVAT_FN_SDK_SYS_PATH"
PROBE_KEY = "cvat_fn_sdk"
SIZE_MISMATCH = "Image sizes of the start frame and the current frame are different"


# -- loading, as cvat-cli loads a function ---------------------------------------------------


def parse_parameter(text: str) -> tuple[str, Any]:
    """``NAME=TYPE:VALUE`` with TYPE int, float, str or bool (cvat-cli's ``-p``)."""
    name, sep, type_and_value = text.partition("=")
    if not sep:
        raise ValueError(f"parameter {text!r}: value not specified (expected NAME=TYPE:VALUE)")
    type_, sep, value = type_and_value.partition(":")
    if not sep:
        raise ValueError(f"parameter {text!r}: type not specified (expected NAME=TYPE:VALUE)")
    if type_ == "int":
        return name, int(value)
    if type_ == "float":
        return name, float(value)
    if type_ == "str":
        return name, value
    if type_ == "bool":
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return name, True
        if lowered in ("0", "false", "no", "off"):
            return name, False
        raise ValueError(f"parameter {text!r}: {value!r} is not a boolean")
    raise ValueError(f"parameter {text!r}: unsupported parameter type {type_!r}")


def load_function(
    ref: str, params: dict[str, Any], base_dir: str | None = None, *, register: bool = False
) -> Any:
    """The function object for ``path.py``, ``module`` or ``module:create``.

    A file is executed as cvat-cli does it, without an entry in ``sys.modules`` (so what
    fails to load there fails here too); ``register`` adds the entry afterwards, so objects
    of the module's classes can be pickled (tracking states travel that way)."""
    if ref.endswith(".py"):
        path = ref if os.path.isabs(ref) or base_dir is None else os.path.join(base_dir, ref)
        module_spec = importlib.util.spec_from_file_location("__cvat_function__", path)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot load {path}")
        function: Any = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(function)
        if register:
            sys.modules[module_spec.name] = function
    else:
        module, _, factory = ref.partition(":")
        if factory not in ("", "create"):
            raise ValueError(f"{ref!r}: only a module's create() factory can be named")
        function = importlib.import_module(module)
    if hasattr(function, "create"):
        function = function.create(**params)
    elif params:
        raise TypeError("function takes no parameters")
    if not hasattr(function, "spec"):
        raise cvataa.BadFunctionError("function has no 'spec' attribute")
    return function


def function_kind(function: Any) -> str:
    """detector, tracker or interactor, from the type of ``spec`` (as the agent decides)."""
    spec = function.spec
    if isinstance(spec, cvataa.DetectionFunctionSpec):
        return "detector"
    if isinstance(spec, cvataa.TrackingFunctionSpec):
        return "tracker"
    if isinstance(spec, cvataa.InteractionFunctionSpec):
        return "interactor"
    raise cvataa.BadFunctionError(
        f"function's spec is of type {type(spec).__name__!r}; expected DetectionFunctionSpec,"
        " TrackingFunctionSpec or InteractionFunctionSpec"
    )


# -- contexts -------------------------------------------------------------------------------


class DetectionContext(cvataa.DetectionFunctionContext):
    """The SDK's detection context; remembers whether the function read conf_threshold."""

    def __init__(
        self, frame_name: str, conf_threshold: float | None, conv_mask_to_poly: bool
    ) -> None:
        self._frame_name = frame_name
        self._conf_threshold = conf_threshold
        self._conv_mask_to_poly = conv_mask_to_poly
        self.threshold_read = False

    @property
    def frame_name(self) -> str:
        return self._frame_name

    @property
    def conf_threshold(self) -> float | None:
        self.threshold_read = True
        return self._conf_threshold

    @property
    def conv_mask_to_poly(self) -> bool:
        return self._conv_mask_to_poly


class TrackingContext(cvataa.TrackingFunctionContext):
    pass


class InteractionContext(cvataa.InteractionFunctionContext):
    pass


class Prompts(cvataa.InteractionPrompts):
    def __init__(self, pos: Any, neg: Any, box: Any) -> None:
        self._pos, self._neg, self._box = pos, neg, box

    @property
    def pos_points(self) -> Any:
        return self._pos

    @property
    def neg_points(self) -> Any:
        return self._neg

    @property
    def bounding_box(self) -> Any:
        return self._box


class ShapeContext(cvataa.TrackingFunctionShapeContext):
    def __init__(self, original_shape_type: str) -> None:
        self._type = original_shape_type

    @property
    def original_shape_type(self) -> str:
        return self._type


# -- CVAT's request -> SDK --------------------------------------------------------------------


def read_image(text: Any) -> Image.Image:
    if not isinstance(text, str):
        raise ValueError("the request has no 'image' (base64 of the frame)")
    image = Image.open(io.BytesIO(base64.b64decode(text)))
    image.load()
    return image


def read_threshold(value: Any) -> float | None:
    """CVAT sends ``threshold`` only when truthy; unusable means none, clamped to [0, 1]."""
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(threshold):
        return None
    return min(max(threshold, 0.0), 1.0)


# -- SDK annotations -> CVAT's detector answer ----------------------------------------------
#
# What CVAT 2.73 reads from a detector's answer (cvat/apps/lambda_manager/views.py, ``invoke``
# and ``DetectionResultConverter._parse_anno``): an item's ``label`` by name, ``type``,
# ``points`` (``mask`` for a mask: the box's bitmap and the box), ``attributes`` as
# ``{"name", "value"}``, ``group_id``, ``outside``, ``rotation`` (rectangles and ellipses),
# a skeleton's ``elements`` (each parsed as a shape of the skeleton's sublabels); it sets
# ``occluded`` false and ``z_order`` 0 and ignores ``confidence``. What cvat-sdk's driver
# uploads for the same annotation (cvat_sdk/auto_annotation/driver.py ``_AnnotationMapper``):
# the annotation as the function made it, label, sublabel and attribute ids mapped. So every
# field the SDK annotation sets goes into the item under CVAT's name, also those CVAT drops
# (``occluded``, ``z_order``, a rotation on a polygon): the judge then names the loss instead
# of this conversion hiding it. What cannot be named in CVAT's answer (an id not in the spec,
# an object that is no annotation) fails the request with the SDK's own message, as the SDK
# fails the task.

TAG_TYPE, SHAPE_TYPE = "LabeledImageRequest", "LabeledShapeRequest"


class Unconvertible(Exception):
    """An annotation CVAT's answer cannot carry (its message is the SDK's wording)."""


def _get(model: Any, name: str) -> Any:
    """A field of an SDK model, None when the function did not set it (cvat-sdk's models
    raise ``ApiAttributeError``, an AttributeError, for a field never set)."""
    return getattr(model, name, None)


def _attributes(annotation: Any, owner: Any) -> list[dict[str, str]]:
    by_id = {a.id: a for a in _get(owner, "attributes") or []}
    result = []
    for value in _get(annotation, "attributes") or []:
        spec = by_id.get(_get(value, "spec_id"))
        if spec is None:
            raise Unconvertible(
                f"function output attribute with unknown ID ({_get(value, 'spec_id')})"
            )
        result.append({"name": spec.name, "value": str(value.value)})
    return result


def _whole(value: Any, what: str) -> int:
    number = float(value)
    if not number.is_integer() or number < 0:
        raise Unconvertible(f"function output mask shape with {what} {value!r}")
    return int(number)


def mask_bitmap(points: list[float]) -> list[int]:
    """The SDK's mask (run lengths starting with zeros, then the inclusive box; cvat_sdk
    masks.py ``encode_mask``) as CVAT's detector answer wants it: the row-major 0/1 bitmap the
    runs spell, then the box. CVAT turns it back into the same runs (views.py: datumaro's
    ``mask_to_rle``). Runs that do not fill the box stay as they are, for the judge to
    report (CVAT stores them so), never padded or cut here."""
    if len(points) < 5:
        raise Unconvertible("function output mask shape with fewer than 5 points")
    box = [_whole(v, "a box coordinate") for v in points[-4:]]
    bitmap: list[int] = []
    value = 0
    for run in points[:-4]:
        bitmap.extend([value] * _whole(run, "a run length"))
        value = 1 - value
    return [*bitmap, *box]


def _shape_fields(item: dict[str, Any], shape: Any) -> None:
    """The fields a shape and a skeleton element share, under CVAT's names."""
    type_ = shape.type.value if hasattr(shape.type, "value") else str(shape.type)
    item["type"] = type_
    points = [float(v) for v in _get(shape, "points") or []]
    if type_ == "mask":
        item["mask"] = mask_bitmap(points)
    elif type_ != "skeleton" or points:  # a skeleton's points are its elements'
        item["points"] = points
    score = _get(shape, "score")
    if score is not None:
        item["confidence"] = float(score)
    rotation = _get(shape, "rotation")
    if rotation:
        item["rotation"] = float(rotation)
    group = _get(shape, "group")
    if group is not None:
        item["group_id"] = group
    outside = _get(shape, "outside")
    if outside is not None:
        item["outside"] = bool(outside)
    if _get(shape, "occluded"):
        item["occluded"] = True  # CVAT sets it false: the judge reports the loss
    if _get(shape, "z_order"):
        item["z_order"] = _get(shape, "z_order")  # likewise: CVAT stores z_order 0


def _element(element: Any, sublabels: dict[Any, Any]) -> dict[str, Any]:
    sub = sublabels.get(_get(element, "label_id"))
    if sub is None:
        raise Unconvertible(
            f"function output shape with unknown sublabel ID ({_get(element, 'label_id')})"
        )
    item: dict[str, Any] = {"label": sub.name}
    _shape_fields(item, element)
    item.setdefault("outside", False)
    item["attributes"] = _attributes(element, sub)
    return item


def to_cvat(annotation: Any, labels: dict[int, Any]) -> dict[str, Any]:
    """One SDK annotation as an item of CVAT's detector answer."""
    type_name = type(annotation).__name__
    if not isinstance(annotation, (models.LabeledImageRequest, models.LabeledShapeRequest)):
        raise Unconvertible(
            f"function output an object of type {type_name!r}"
            f" (expected {TAG_TYPE!r} or {SHAPE_TYPE!r})"
        )
    is_tag = isinstance(annotation, models.LabeledImageRequest)
    label = labels.get(_get(annotation, "label_id"))
    if label is None:
        kind = "tag" if is_tag else "shape"
        raise Unconvertible(
            f"function output {kind} with unknown label ID ({_get(annotation, 'label_id')})"
        )
    item: dict[str, Any] = {"label": label.name}
    if is_tag:
        item["type"] = "tag"
        group = _get(annotation, "group")
        if group is not None:
            item["group_id"] = group
    else:
        _shape_fields(item, annotation)
    item["attributes"] = _attributes(annotation, label)
    elements = _get(annotation, "elements")
    if elements and item["type"] != "skeleton":
        raise Unconvertible("function output non-skeleton shape with elements")
    if item["type"] == "skeleton":
        sublabels = {s.id: s for s in _get(label, "sublabels") or []}
        item["elements"] = [_element(e, sublabels) for e in elements or []]
    return item


def dump(annotation: Any) -> Any:
    """An SDK object as JSON-able data, with exactly the fields the function set."""
    if hasattr(annotation, "to_dict"):
        return annotation.to_dict()
    if hasattr(annotation, "__attrs_attrs__"):
        return {a.name: getattr(annotation, a.name) for a in annotation.__attrs_attrs__}
    return repr(annotation)


# -- tracking states ------------------------------------------------------------------------


def _key() -> bytes:
    return os.environ.get(ENV_STATE_KEY, "cvat-fn-unsigned").encode()


def pack_state(inner: Any, shape_type: str, size: tuple[int, ...]) -> str:
    data = pickle.dumps((inner, shape_type, tuple(size)))
    mac = hmac.new(_key(), data, hashlib.sha256).hexdigest()
    return mac + ":" + base64.b64encode(data).decode("ascii")


def unpack_state(text: Any) -> tuple[Any, str, tuple[int, ...]]:
    if not isinstance(text, str) or ":" not in text:
        raise ValueError("a tracking state this function did not make")
    mac, _, encoded = text.partition(":")
    data = base64.b64decode(encoded)
    if not hmac.compare_digest(mac, hmac.new(_key(), data, hashlib.sha256).hexdigest()):
        raise ValueError("a tracking state with a bad signature")
    inner, shape_type, size = pickle.loads(data)  # noqa: S301 - signed by this function
    return inner, shape_type, tuple(size)


# -- Nuclio entry points ----------------------------------------------------------------------


def init_context(context: Any) -> None:
    ref = os.environ.get(ENV_FUNCTION)
    if not ref:
        raise RuntimeError(f"{ENV_FUNCTION} is not set: which cvat-sdk function to load?")
    params = json.loads(os.environ.get(ENV_PARAMS) or "{}")
    for entry in reversed((os.environ.get(ENV_SYS_PATH) or "").split(os.pathsep)):
        if entry and entry not in sys.path:
            sys.path.insert(0, entry)  # where a module given by name is imported from
    here = os.path.dirname(os.path.abspath(__file__))
    function = load_function(ref, params, here, register=True)
    kind = function_kind(function)
    context.user_data.function = function
    context.user_data.kind = kind
    context.user_data.harness = os.environ.get(ENV_HARNESS) == "1"
    context.logger.info(f"cvat-sdk {kind} function loaded from {ref}")


def _respond(context: Any, body: Any) -> Any:
    return context.Response(
        body=json.dumps(body), headers={}, content_type="application/json", status_code=200
    )


def handler(context: Any, event: Any) -> Any:
    body = event.body
    if isinstance(body, (bytes, str)):
        body = json.loads(body)
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object")
    probe = body.get(PROBE_KEY) if context.user_data.harness else None
    if not isinstance(probe, dict):
        probe = None
    if context.user_data.kind == "detector":
        return _respond(context, detect(context, body, probe))
    if context.user_data.kind == "interactor":
        return _respond(context, interact(context, body, probe))
    return _respond(context, track(context, body, probe))


def detect(context: Any, body: dict[str, Any], probe: dict[str, Any] | None) -> Any:
    function = context.user_data.function
    image = read_image(body.get("image"))
    sdk_context = DetectionContext(
        frame_name=str((probe or {}).get("frame_name") or "frame_000000.jpg"),
        conf_threshold=read_threshold(body.get("threshold")),
        conv_mask_to_poly=bool((probe or {}).get("conv_mask_to_poly")),
    )
    annotations = list(function.detect(sdk_context, image))
    if probe is not None:
        return {
            "annotations": [dump(a) for a in annotations],
            "types": [type(a).__name__ for a in annotations],
            "conf_threshold_read": sdk_context.threshold_read,
        }
    labels = {label.id: label for label in function.spec.labels}
    answer = []
    for annotation in annotations:
        try:
            answer.append(to_cvat(annotation, labels))
        except Unconvertible as exc:
            # the SDK fails the whole task on such an annotation, in these words; here the
            # request fails, under cvat-fn as in the export, so no check passes on its loss
            raise cvataa.BadFunctionError(str(exc)) from None
    return answer


def _trackable(shape: Any) -> tuple[Any, bool]:
    """(TrackableShape, typed) from CVAT's shape: ``{"type", "points"}`` or a bare list."""
    if isinstance(shape, dict):
        return cvataa.TrackableShape(type=str(shape.get("type")), points=shape["points"]), True
    return cvataa.TrackableShape(type="rectangle", points=list(shape)), False


def track(context: Any, body: dict[str, Any], probe: dict[str, Any] | None) -> Any:
    function = context.user_data.function
    image = read_image(body.get("image"))
    pp_image = image
    if hasattr(function, "preprocess_image"):
        pp_image = function.preprocess_image(TrackingContext(), image)
    shapes = body.get("shapes") or []
    states = body.get("states") or []
    out_shapes: list[Any] = []
    out_states: list[Any] = []
    raw: list[Any] = []
    if states and any(s is not None for s in states):
        for state in states:
            inner, shape_type, size = unpack_state(state)
            if tuple(image.size) != size:
                raise ValueError(SIZE_MISMATCH)
            result = function.track(ShapeContext(shape_type), pp_image, inner)
            raw.append(None if result is None else dump(result))
            if result is not None and result.type != shape_type:
                message = (
                    f"function output shape of type {result.type!r},"
                    f" but original shape was of type {shape_type!r}"
                )
                if not context.user_data.harness:
                    raise cvataa.BadFunctionError(message)
                # under cvat-fn, sdk_track reports the type; the Nuclio checks judge where
                # the object went, so a rectangle's answer is given as its box
                context.logger.warn(message)
                if shape_type == "rectangle" and len(result.points) >= 4:
                    xs, ys = result.points[0::2], result.points[1::2]
                    result = cvataa.TrackableShape(
                        type=shape_type, points=[min(xs), min(ys), max(xs), max(ys)]
                    )
            out_shapes.append(
                None
                if result is None
                else {"type": result.type, "points": [float(v) for v in result.points]}
            )
            out_states.append(pack_state(inner, shape_type, size))
    else:
        supported = function.spec.supported_shape_types
        for shape in shapes:
            trackable, typed = _trackable(shape)
            if trackable.type not in supported:
                raise ValueError(f"Unsupported shape type {trackable.type!r}")
            inner = function.init_tracking_state(ShapeContext(trackable.type), pp_image, trackable)
            out_shapes.append(shape)
            out_states.append(pack_state(inner, trackable.type, (image.width, image.height)))
    if probe is not None:
        return {"shapes": raw, "states": out_states}
    legacy = shapes and not isinstance(next((s for s in shapes if s is not None), {}), dict)
    if legacy:
        out_shapes = [s["points"] if isinstance(s, dict) else s for s in out_shapes]
    return {"shapes": out_shapes, "states": out_states}


def _pairs(value: Any) -> tuple[tuple[float, float], ...]:
    return tuple((float(p[0]), float(p[1])) for p in value or ())


def prompts_from(body: dict[str, Any], spec: Any) -> Prompts:
    """CVAT's interactor request as the SDK's prompts, refused as the agent refuses them
    (cvat-cli ``agent_driver_interaction.py`` ``_calculate_result_for_interact_ar``)."""
    pos, neg = _pairs(body.get("pos_points")), _pairs(body.get("neg_points"))
    box = _pairs(body.get("obj_bbox")) or None
    if len(pos) < spec.min_pos_points:
        raise ValueError("not enough positive points")
    if spec.min_neg_points is None:
        if neg:
            raise ValueError("negative points are not supported")
    elif len(neg) < spec.min_neg_points:
        raise ValueError("not enough negative points")
    if spec.min_bounding_boxes is None and box is not None:
        raise ValueError("bounding boxes are not supported")
    if spec.min_bounding_boxes == 1 and box is None:
        raise ValueError("a bounding box is required")
    return Prompts(pos, neg, None if box is None else (box[0], box[1]))


def interact(context: Any, body: dict[str, Any], probe: dict[str, Any] | None) -> Any:
    """CVAT 2.73's interactor answer: ``{"shapes": [{"type", "points"}]}``, a mask's points
    being run lengths and its box, as the SDK's InteractionResultShape already holds them."""
    function = context.user_data.function
    image = read_image(body.get("image"))
    prompts = prompts_from(body, function.spec)
    sdk_context = InteractionContext()
    pp_image = image
    if hasattr(function, "preprocess_image"):
        pp_image = function.preprocess_image(sdk_context, image)
    shapes = list(function.detect(sdk_context, pp_image, prompts))
    if probe is not None:
        return {"shapes": [dump(s) for s in shapes], "types": [type(s).__name__ for s in shapes]}
    return {"shapes": [{"type": s.type, "points": [float(v) for v in s.points]} for s in shapes]}
