"""One shape of every coordinate-bearing type, at fixed places in the image it is sent (all
inside any image of at least 64x96); each request is recorded (../roi_record.py)."""

import json
import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))
from roi_record import record  # noqa: E402

ANSWER = [
    {"label": "box", "type": "rectangle", "points": [10, 20, 60, 80], "confidence": "0.9"},
    {"label": "poly", "type": "polygon", "points": [5, 5, 40, 5, 40, 30]},
    # a mask: its box's bitmap row by row (3x2 here), then [xtl, ytl, xbr, ybr]
    {"label": "blob", "type": "mask", "mask": [1, 0, 1, 1, 1, 0, 12, 14, 14, 15]},
    {"label": "spot", "type": "points", "points": [7, 9]},
    {
        "label": "pose",
        "type": "skeleton",
        "elements": [
            {"label": "head", "type": "points", "points": [20, 30]},
            {"label": "tail", "type": "points", "points": [25, 90]},
        ],
    },
]


def init_context(context):
    pass


def handler(context, event):
    data = event.body if isinstance(event.body, dict) else json.loads(event.body)
    record(data)
    return context.Response(
        body=json.dumps(ANSWER), content_type="application/json", status_code=200
    )
