"""Shared by roi_detector and roi_interactor: each request body is written, as received, to
a file in the directory named by CVAT_FN_ROI_RECORD (when set), so a test can compare what
CVAT sent with what cvat-fn invoke sends (tests/cvat_server/test_roi_cvat.py)."""

import json
import os
import time
from pathlib import Path


def record(body):
    directory = os.environ.get("CVAT_FN_ROI_RECORD")
    if not directory:
        return
    path = Path(directory) / f"{time.time_ns()}-{os.getpid()}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body))
    tmp.rename(path)  # a reader never sees half a file


def recorded(directory):
    """The bodies recorded in ``directory``, oldest first."""
    return [json.loads(p.read_text()) for p in sorted(Path(directory).glob("*.json"))]
