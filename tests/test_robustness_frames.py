"""The frames robustness sends first: one of every kind CVAT really sends, each decoding to
the format, mode and size its label claims (cvat-ai/cvat sends image tasks' original files)."""

from __future__ import annotations

import io

from PIL import Image

from harness.cvat.client import Invocation
from harness.suite.checks.robustness import EXIF_ORIENTATION, acceptable, frame_kinds


def test_every_frame_kind_is_what_it_says() -> None:
    seen = {}
    for frame in frame_kinds():
        with Image.open(io.BytesIO(frame.data)) as image:
            assert image.size == (frame.width, frame.height)
            assert image.format in frame.label, frame.label
            seen[frame.label] = (image.format, image.mode, image.getexif().get(EXIF_ORIENTATION))
    formats = {fmt for fmt, _, _ in seen.values()}
    assert formats == {"BMP", "TIFF", "WEBP", "PNG", "JPEG"}
    assert ("PNG", "I;16", None) in seen.values()
    assert ("JPEG", "CMYK", None) in seen.values()
    assert ("JPEG", "RGB", 6) in seen.values()
    sizes = {(f.width, f.height) for f in frame_kinds()}
    assert {(1, 64), (64, 1), (3840, 2160)} <= sizes


def test_only_a_2xx_answer_is_acceptable() -> None:
    # views.py LambdaGateway._http: reply.raise_for_status() fails the job on any 4xx/5xx
    def answered(status: int) -> Invocation:
        return Invocation("detector", "x", {}, None, status=status, body=[])

    assert acceptable(answered(200))
    assert not acceptable(answered(400))
    assert not acceptable(answered(415))
    assert not acceptable(answered(500))
