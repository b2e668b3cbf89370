"""A cvat-sdk interaction function: GrabCut seeded by the user's clicks and optional box.

The model is the Nuclio sample ``grabcut_interactor``'s: model_handler.py, model_weights.py and
weights/ here link to the same files. This module only adapts it to ``cvat_sdk.auto_annotation``:
``spec`` says what prompts it takes (at least one positive point; negative points and a box
optional), ``detect`` answers the model's mask, whose points are already CVAT's (and
``cvat_sdk.masks.encode_mask``'s) run lengths and box.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

import cvat_sdk.auto_annotation as cvataa
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


_model = _load_model_handler().ModelHandler()

spec = cvataa.InteractionFunctionSpec(min_pos_points=1, min_neg_points=0, min_bounding_boxes=0)


def detect(
    context: cvataa.InteractionFunctionContext,
    image: PIL.Image.Image,
    prompts: cvataa.InteractionPrompts,
) -> list[cvataa.InteractionResultShape]:
    answer = _model.infer(image, prompts.pos_points, prompts.neg_points, prompts.bounding_box)
    return [
        cvataa.InteractionResultShape(type="mask", points=shape["points"])
        for shape in answer["shapes"]
    ]
