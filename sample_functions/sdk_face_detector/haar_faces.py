"""A cvat-sdk detection function: frontal faces with OpenCV's Haar cascade.

The model is the Nuclio sample ``face_detector``'s: model_handler.py, model_weights.py and
weights/ here link to the same files. This module only adapts it to ``cvat_sdk.auto_annotation``:
``spec`` declares the labels, ``detect`` returns the model's boxes as ``rectangle`` shapes whose
``score`` is the model's confidence.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

import cvat_sdk.auto_annotation as cvataa
import PIL.Image

DEFAULT_THRESHOLD = 0.5

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

spec = cvataa.DetectionFunctionSpec(
    labels=[cvataa.label_spec(model_handler.LABEL, 0, type="rectangle")]
)


def detect(
    context: cvataa.DetectionFunctionContext, image: PIL.Image.Image
) -> list[cvataa.DetectionAnnotation]:
    threshold = context.conf_threshold
    if threshold is None:
        threshold = DEFAULT_THRESHOLD
    return [
        cvataa.rectangle(0, shape["points"], score=shape["confidence"])
        for shape in _model.infer(image, threshold)
    ]
