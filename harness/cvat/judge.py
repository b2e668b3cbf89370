"""One judge for every path that shows a verdict: invoke, eval, the suite (and so the
cvat-sdk functions it runs) hand a function's answers to :meth:`Judge.findings`, built from
the function's spec by :meth:`Judge.for_function`, so the same answer gets the same findings
wherever it is shown.

The judge holds what the validator needs beside the answer: the kind, the function's declared
labels as ``spec.Label`` objects (names, types, attributes, skeleton sublabels: names alone
would leave the attribute and skeleton rules silent) and the CVAT release judged for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.cvat.findings import CVAT_VERSION, Finding
from harness.cvat.validate import validate

if TYPE_CHECKING:
    from harness.cvat.roi import Roi
    from harness.nuclio.spec import FunctionSpec, Label


def declared_labels(spec: FunctionSpec | None) -> tuple[Label, ...] | None:
    """The labels a function declares, as CVAT reads them from its ``spec`` annotation
    (views.py ``LambdaFunction.__init__``: ``json.loads(meta_anno.get("spec") or "[]")``, so
    a function without one has no labels and CVAT keeps none of its shapes); None only when
    there is no function.yaml to read (``--url`` alone): then labels are not judged."""
    if spec is None:
        return None
    return tuple(spec.labels)


@dataclass(frozen=True)
class Judge:
    """How one function's answers are judged."""

    kind: str
    labels: tuple[Any, ...] | None = None
    """Declared labels (``spec.Label``), or None when unknown (``--url`` without a spec)."""
    cvat_version: str = CVAT_VERSION

    @classmethod
    def for_function(
        cls,
        spec: FunctionSpec | None,
        kind: str | None = None,
        cvat_version: str = CVAT_VERSION,
    ) -> Judge:
        """The judge for a function read from its directory (``kind`` overrides the spec's)."""
        chosen = kind or (spec.kind if spec is not None else None) or "detector"
        return cls(chosen, declared_labels(spec), cvat_version)

    @property
    def label_names(self) -> list[str] | None:
        """The declared labels' names, for showing (None: labels are not judged)."""
        return None if self.labels is None else [str(label.name) for label in self.labels]

    def findings(
        self,
        body: Any,
        *,
        image_size: tuple[int, int] | None = None,
        request: Mapping[str, Any] | None = None,
        roi: Roi | None = None,
        frame_size: tuple[int, int] | None = None,
    ) -> list[Finding]:
        """Findings for one answer (parsed JSON, or its text when it was not JSON).

        ``roi``: the region the request was sent for, on a frame of ``frame_size`` (then
        ``image_size`` is the crop's): CVAT's rules for moving the answer back apply too
        (harness/cvat/roi.py)."""
        labels: Sequence[Any] | None = None if self.labels is None else list(self.labels)
        found = validate(
            self.kind,
            body,
            labels=labels,
            image_size=image_size,
            request=request,
            cvat_version=self.cvat_version,
        )
        if roi is not None and frame_size is not None:
            from harness.cvat.roi import roi_findings

            found += roi_findings(self.kind, body, roi, frame_size, self.cvat_version)
        return found
