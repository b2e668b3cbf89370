"""CVAT's side of the contract: the requests CVAT sends each kind of function, and what CVAT
does with the answers (for a stated CVAT version)."""

from harness.cvat.findings import CVAT_VERSION, Finding, errors, warnings
from harness.cvat.requests import (
    KINDS,
    build_request,
    detector_request,
    encode_image,
    interactor_request,
    reid_request,
    tracker_request,
)
from harness.cvat.shapes import Shape, shapes_from_response
from harness.cvat.validate import validate

__all__ = [
    "CVAT_VERSION",
    "KINDS",
    "Finding",
    "Shape",
    "build_request",
    "detector_request",
    "encode_image",
    "errors",
    "interactor_request",
    "reid_request",
    "shapes_from_response",
    "tracker_request",
    "validate",
    "warnings",
]
