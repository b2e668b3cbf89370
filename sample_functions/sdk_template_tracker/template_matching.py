"""A cvat-sdk tracking function: one rectangle followed by template matching (OpenCV).

The model is the Nuclio sample ``template_tracker``'s: model_handler.py, model_weights.py and
weights/ here link to the same files. This module only adapts it to ``cvat_sdk.auto_annotation``:
``preprocess_image`` turns a frame grey once for all its shapes, ``init_tracking_state`` keeps
the model's state (the box and its template, a plain dict), ``track`` finds the box again and
updates that state in place.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

import cv2
import cvat_sdk.auto_annotation as cvataa
import numpy as np
import PIL.Image

def _load_model_handler() -> ModuleType:
    """model_handler.py beside this file, loaded by path: cvat-cli runs this file without putting
    its directory on sys.path. The model imports ``model_weights`` by name, so that name means
    the copy beside this file while it loads (and whatever it meant before, afterwards)."""
    here = os.path.dirname(os.path.abspath(__file__))
    saved = {name: sys.modules.get(name) for name in ("model_weights", "model_handler")}
    try:
        for name in saved:
            found = importlib.util.spec_from_file_location(name, os.path.join(here, f"{name}.py"))
            if found is None or found.loader is None:
                raise ImportError(f"cannot load {name}.py beside {__file__}")
            module = sys.modules[name] = importlib.util.module_from_spec(found)
            found.loader.exec_module(module)
        return module
    finally:
        for name, before in saved.items():
            if before is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = before


model_handler = _load_model_handler()
_model = model_handler.ModelHandler()

spec = cvataa.TrackingFunctionSpec(supported_shape_types=["rectangle"])


def preprocess_image(
    context: cvataa.TrackingFunctionContext, image: PIL.Image.Image
) -> np.ndarray:
    return cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2GRAY)


def init_tracking_state(
    context: cvataa.TrackingFunctionShapeContext, grey: np.ndarray, shape: cvataa.TrackableShape
) -> dict[str, Any]:
    box, form = model_handler.box_of(list(shape.points))
    if box is None:
        raise ValueError(f"not a rectangle's points: {list(shape.points)}")
    return _model.init(grey, box, form)


def track(
    context: cvataa.TrackingFunctionShapeContext, grey: np.ndarray, state: dict[str, Any]
) -> cvataa.TrackableShape | None:
    points, state_now = _model.track(grey, state)
    state.update(state_now)
    return cvataa.TrackableShape(type=context.original_shape_type, points=points)
