"""Recordings (``cvat-fn dashboard --record``) into cvat-fn.yaml fixtures, so a request that
went wrong inside CVAT becomes a regression test for ``pytest --function``.

The file is edited round-trip (ruamel.yaml): the user's comments and order stay. Each
recording's images are copied beside cvat-fn.yaml; its fields (threshold, points, boxes) become
the fixture's, and with ``expect_answer`` the recorded answer becomes what is expected.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from harness.cvat.shapes import Shape, shapes_from_response
from harness.nuclio import files
from harness.nuclio.dashboard.recording import Recording, RecordingError


def _flow(values: list[Any]) -> CommentedSeq:
    seq = CommentedSeq(values)
    seq.fa.set_flow_style()
    return seq


def _number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return round(value, 3) if isinstance(value, float) else value


def _pairs(value: Any) -> list[Any]:
    if not isinstance(value, list):
        return []
    return [_flow([_number(c) for c in p]) for p in value if isinstance(p, list) and len(p) == 2]


def expected_shape(shape: Shape) -> CommentedMap:
    """A returned shape as cvat-fn.yaml expects it: a mask as its box, a skeleton by its
    elements, a tag by its label alone."""
    out = CommentedMap()
    out["label"] = shape.label
    out["type"] = shape.type
    if shape.type == "skeleton":
        out["elements"] = [
            CommentedMap(label=e.label, points=_flow([_number(c) for c in e.points[:2]]))
            for e in shape.elements
        ]
    elif shape.type == "mask":
        out["points"] = _flow([_number(c) for c in shape.bbox()])
    elif shape.type != "tag":
        out["points"] = _flow([_number(c) for c in shape.points])
    rotation = shape.raw.get("rotation") if isinstance(shape.raw, dict) else None
    if isinstance(rotation, int | float) and rotation and shape.type in ("rectangle", "ellipse"):
        out["rotation"] = _number(float(rotation))
    out.fa.set_flow_style()
    return out


def fixture_for(
    rec: Recording, target: Path, expect_answer: bool
) -> tuple[CommentedMap, list[tuple[Path, Path]], str | None]:
    """(the fixture, the images to copy (from, to), a note) for one recording."""
    kind, fields = rec.kind, rec.fields
    if kind == "tracker":
        raise RecordingError(
            f"{rec.path}: a tracker's fixture needs two frames (image and next_image) and the"
            " shapes on the first; one recorded request holds one frame: write it by hand"
        )
    if kind not in ("detector", "interactor", "reid"):
        raise RecordingError(f"{rec.path}: unknown kind {kind!r}: cannot make a fixture")
    images = rec.images
    first = "image0" if kind == "reid" else "image"
    if first not in images:
        raise RecordingError(
            f"{rec.path}: no {first} was recorded: CVAT sent none, or one that cannot be read as"
            " an image, so this request cannot become a fixture"
        )
    copies: list[tuple[Path, Path]] = []
    fx = CommentedMap()
    fx["name"] = rec.path.name
    for key, as_key in ((first, "image"), ("image1", "image1")):
        if key in images:
            dest = target / f"{rec.path.name}-{images[key].name}"
            copies.append((images[key], dest))
            fx[as_key] = dest.name
    if fields.get("threshold") is not None:
        fx["threshold"] = _number(fields["threshold"])
    if kind == "interactor":
        fx["pos_points"] = _flow(_pairs(fields.get("pos_points")))
        fx["neg_points"] = _flow(_pairs(fields.get("neg_points")))
        bbox = _pairs(fields.get("obj_bbox"))
        if len(bbox) == 2:
            fx["obj_bbox"] = _flow(bbox)
    if kind == "reid":
        for key in ("boxes0", "boxes1"):
            given = fields.get(key)
            boxes = given if isinstance(given, list) else []
            points = [b.get("points") if isinstance(b, dict) else b for b in boxes]
            fx[key] = _flow([_flow([_number(c) for c in p]) for p in points if p])
        if fields.get("max_distance") is not None:
            fx["max_distance"] = _number(fields["max_distance"])
    note = None
    if expect_answer:
        if rec.status != 200:
            note = f"{rec.path.name}: HTTP {rec.status}, so no answer to expect: left without one"
        elif kind == "reid":
            answer = rec.answer if isinstance(rec.answer, list) else []
            fx["expected_matches"] = _flow(list(answer))
        else:
            fx["expected"] = [expected_shape(s) for s in shapes_from_response(kind, rec.answer)]
    return fx, copies, note


def add_fixtures(
    recordings: list[Recording], config: Path, *, expect_answer: bool
) -> tuple[list[str], list[str]]:
    """Add a fixture per recording to ``config`` (made when missing); (added names, notes).
    A recording whose fixture name is already there is skipped, with a note."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never wrap a line the user wrote on one
    try:
        present = files.is_present(config)
        text = files.checked_text(config) if present else ""
    except files.FileError as exc:
        raise RecordingError(f"{config}: {exc.problem}") from None
    if present:
        # Written back with the file's own indentation, so the diff shows only what was added.
        try:
            _, indent, offset = load_yaml_guess_indent(text)
            if indent:  # a block sequence's indent and dash offset; mappings keep two spaces
                yaml.indent(mapping=2, sequence=indent, offset=offset or 0)
            data = yaml.load(text)
        except YAMLError as exc:
            raise RecordingError(f"{config}: not valid YAML: {str(exc).splitlines()[0]}") from None
        if data is None:
            data = CommentedMap()
        if not isinstance(data, dict):
            raise RecordingError(f"{config}: the top level must be a mapping")
    else:
        data = CommentedMap()
    fixtures = data.get("fixtures")
    if fixtures is None:
        fixtures = data["fixtures"] = CommentedSeq()
    if not isinstance(fixtures, list):
        raise RecordingError(f"{config}: fixtures must be a list")
    names = {str(f.get("name")) for f in fixtures if isinstance(f, dict) and f.get("name")}
    target = config.parent
    planned = []
    notes: list[str] = []
    for rec in recordings:
        if rec.path.name in names:
            notes.append(f"{rec.path.name}: already a fixture in {config.name}: skipped")
            continue
        fx, copies, note = fixture_for(rec, target, expect_answer)
        planned.append((fx, copies))
        if note:
            notes.append(note)
    target.mkdir(parents=True, exist_ok=True)
    for fx, copies in planned:
        for source, dest in copies:
            shutil.copyfile(source, dest)
        fixtures.append(fx)
    with config.open("w", encoding="utf-8") as handle:
        yaml.dump(data, handle)
    return [str(fx["name"]) for fx, _ in planned], notes
