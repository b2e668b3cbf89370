"""Faces at the threshold CVAT sends, and a ``photo`` tag on every frame, none of them with a
confidence: CVAT stores shapes without one (it never reads it), so this is a correct function.

``CONFIDENCE_LEFT_OUT`` in the function's environment (Nuclio passes the environment on):

- ``all`` (or unset): no shape carries a confidence;
- ``some``: the faces keep the model's confidence, the tag has none (a warning, no failure);
- ``grows``: as ``all``, but from threshold 0.5 on the tag reads ``portrait``: a higher
  threshold no longer gives a subset, which threshold_monotone sees without confidences.

Built on the face detector sample's model (face_base.py).
"""

import os
import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from face_base import frame, init_context, read_request, respond  # noqa: E402,F401


def handler(context, event):
    data, threshold = read_request(event)
    mode = os.environ.get("CONFIDENCE_LEFT_OUT") or "all"
    faces = context.user_data.model.infer(frame(data), threshold)
    if mode != "some":
        for face in faces:
            face.pop("confidence", None)
    tag = "portrait" if mode == "grows" and threshold >= 0.5 else "photo"
    return respond(context, [*faces, {"label": tag, "type": "tag"}], threshold)
