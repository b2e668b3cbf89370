"""The SDK face detector sample behind a create() factory, for ``module:create`` with
parameters (cvat-cli's ``--function-module haar_factory -p default_threshold=float:0.6``)."""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
import cvat_sdk.auto_annotation as cvataa  # noqa: E402
from sdk_face_base import haar  # noqa: E402


class _WithDefault(cvataa.DetectionFunctionContext):
    def __init__(self, context, default):
        self._context, self._default = context, default

    frame_name = property(lambda self: self._context.frame_name)
    conv_mask_to_poly = property(lambda self: self._context.conv_mask_to_poly)

    @property
    def conf_threshold(self):
        threshold = self._context.conf_threshold
        return self._default if threshold is None else threshold


class HaarFaces:
    spec = haar.spec

    def __init__(self, default_threshold: float) -> None:
        self.default_threshold = default_threshold

    def detect(self, context, image):
        return haar.detect(_WithDefault(context, self.default_threshold), image)


def create(default_threshold: float = 0.5) -> HaarFaces:
    return HaarFaces(default_threshold)
