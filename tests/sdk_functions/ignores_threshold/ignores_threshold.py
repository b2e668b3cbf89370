"""Not broken, but worth a warning: it never reads context.conf_threshold and filters at a
fixed 0.5, so CVAT's threshold slider does nothing."""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
import cvat_sdk.auto_annotation as cvataa  # noqa: E402
from sdk_face_base import face_boxes, spec  # noqa: E402,F401

from sdk_face_base import haar  # noqa: E402


class FixedThreshold(cvataa.DetectionFunctionContext):
    frame_name = "frame"
    conf_threshold = 0.5
    conv_mask_to_poly = False


def detect(context, image):
    return haar.detect(FixedThreshold(), image)
