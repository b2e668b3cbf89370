"""COCO run-length encodings (RLE) of masks and polygons, made by pycocotools.

Both the dataset reader (ground-truth masks) and the metrics (answers) need them; here they
depend on neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def encode_mask(bitmap: Any, size: tuple[int, int]) -> dict[str, Any]:
    """A full-image 0/1 array (height, width) as a COCO RLE (counts as str, for JSON)."""
    from pycocotools import mask as mask_utils

    array = np.asfortranarray(np.asarray(bitmap, dtype=np.uint8).reshape(size))
    rle = mask_utils.encode(array)
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def polygon_rle(points: Sequence[float], size: tuple[int, int]) -> dict[str, Any]:
    """A polygon as a COCO RLE: COCOeval's loadRes takes detections' masks only as RLE."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.merge(mask_utils.frPyObjects([list(points)], size[0], size[1]))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}
