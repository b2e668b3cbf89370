"""Correct, without scores: it filters faces at context.conf_threshold as the SDK face
detector sample does (haar_faces.py here is a link to it, with the model beside it) and sets
no ``score`` on them: cvat-sdk makes it optional, and CVAT never reads a confidence. Its
Nuclio export then answers shapes without a confidence."""

import importlib.util
import os

import cvat_sdk.auto_annotation as cvataa

_found = importlib.util.spec_from_file_location(
    "haar_faces_beside_no_score",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "haar_faces.py"),
)
assert _found is not None and _found.loader is not None
haar = importlib.util.module_from_spec(_found)
_found.loader.exec_module(haar)

spec = haar.spec


def detect(context, image):
    return [cvataa.rectangle(0, list(shape.points)) for shape in haar.detect(context, image)]
