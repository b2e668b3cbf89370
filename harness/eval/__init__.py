"""cvat-fn eval: a detector run over a dataset exported from CVAT, scored with COCO metrics.

``dataset`` reads the export (with Datumaro, the library CVAT uses for these formats),
``runner`` sends every image as CVAT does and keeps the answers for ``--resume``, ``metrics``
scores them with pycocotools, ``gate`` turns the metrics into a verdict and ``report`` writes
eval.json and eval.html.
"""

from __future__ import annotations


class DatasetError(ValueError):
    """The dataset path is not an export cvat-fn can read; the message says what was expected."""


class GateInputError(ValueError):
    """A --minimum, --max-drop or --baseline that cannot be used; the message names it."""
