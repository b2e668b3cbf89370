"""cvat-fn.yaml beside function.yaml: what the suite sends, expects, and how fast it must be.

Every field is checked on load, and an error names the field (``fixtures[1].threshold``), since
a typo here would otherwise quietly turn a check off.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from PIL import Image

from harness.cvat.detector import POINT_RULES, SHAPE_TYPES
from harness.cvat.findings import CVAT_VERSION, parse_version
from harness.cvat.roi import Roi, RoiError
from harness.cvat.shapes import Shape
from harness.nuclio import files
from harness.suite.relations import RELATIONS

CONFIG_NAME = "cvat-fn.yaml"
CHECKS = (
    "lint",
    "starts",
    "latency",
    "answered",
    "schema",
    "labels",
    "coordinates",
    "attributes",
    "skeleton",
    "threshold",
    "threshold_monotone",
    "geometry",
    "accuracy",
    "robustness",
    "concurrency",
    "sdk_module",
    "sdk_answer",
    "sdk_mask_to_poly",
    "sdk_threshold",
    "sdk_reads_threshold",
    "sdk_interact",
    "sdk_track",
)
"""The built-in suite's checks (and a cvat-sdk function's), by the names ``skip:`` takes."""


class ConfigError(ValueError):
    """cvat-fn.yaml is wrong; the message starts with the file and the field."""


@dataclass(frozen=True)
class Expected:
    label: str | None
    type: str
    points: list[float]
    elements: tuple[Expected, ...] = ()
    """A skeleton's keypoints, each a ``points`` expectation with its element's label."""
    rotation: float = 0.0
    """Degrees a rectangle or ellipse is turned about its centre, as CVAT's ``rotation``."""

    def shape(self) -> Shape:
        """The expectation as the shape a detector would return (a skeleton's points are its
        elements'; an expected mask is its box or its outline, with no bitmap)."""
        elements = [e.shape() for e in self.elements]
        points = [c for e in elements for c in e.points] if elements else list(self.points)
        raw = {"rotation": self.rotation} if self.rotation else None
        return Shape(self.label or "", self.type, points, elements=elements, raw=raw)


@dataclass
class Fixture:
    name: str
    image: Path
    threshold: float | None = None
    pos_points: list[list[float]] = field(default_factory=list)
    neg_points: list[list[float]] = field(default_factory=list)
    obj_bbox: list[list[float]] | None = None
    shapes: list[list[float]] = field(default_factory=list)
    next_image: Path | None = None
    image1: Path | None = None
    boxes0: list[list[float]] = field(default_factory=list)
    boxes1: list[list[float]] = field(default_factory=list)
    max_distance: float | None = None
    expected: list[Expected] | None = None
    expected_matches: list[int] | None = None
    roi: Roi | None = None
    """Detectors and interactors: a region of interest, ``[x1, y1, x2, y2]`` in frame pixels;
    the crop is sent as CVAT sends it, ``pos_points``, ``obj_bbox`` and ``expected`` stay in
    frame coordinates (harness/cvat/roi.py)."""
    text_prompts: list[str] = field(default_factory=list)
    """Interactors: sent as ``text_prompts`` (CVAT 2.73)."""

    @property
    def has_expectations(self) -> bool:
        return self.expected is not None or self.expected_matches is not None


@dataclass
class Minimums:
    iou: float = 0.5
    """Rectangles, polygons, masks, ellipses, cuboids: the least IoU that counts as found."""
    oks: float = 0.5
    """Points, polylines, skeletons: the least keypoint similarity (COCO's OKS) that counts."""
    precision: float = 0.5
    recall: float = 0.5


@dataclass
class Budgets:
    ready_s: float = 120.0
    first_request_s: float = 30.0
    p50_ms: float = 1000.0
    p95_ms: float = 2000.0
    p99_ms: float = 5000.0
    warm_requests: int = 20


@dataclass
class SuiteConfig:
    path: Path | None
    cvat_version: str = CVAT_VERSION
    fixtures: list[Fixture] = field(default_factory=list)
    minimums: Minimums = field(default_factory=Minimums)
    budgets: Budgets = field(default_factory=Budgets)
    skip: tuple[str, ...] = ()
    """Checks turned off (``skip: [geometry]``): reported as skipped, with this file named."""
    geometry: tuple[str, ...] = RELATIONS
    """The relations the geometry check tries (``geometry: [flip, roi]``; ``[]`` for none)."""


_FIXTURE_KEYS = {f.name for f in dataclasses.fields(Fixture)}


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path.name}: {where}: {message}")

    def number(
        self, where: str, value: Any, low: float | None = None, high: float | None = None
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, f"must be a number, got {value!r}")
        if high is None and low is not None and value < low:
            raise self.fail(where, f"{value} is below {low:g}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(where, f"{value} is outside [{low}, {high}]")
        return float(value)

    def points(self, where: str, value: Any, arity: int | None) -> list[list[float]]:
        if not isinstance(value, list):
            raise self.fail(where, f"must be a list, got {value!r}")
        result = []
        for i, item in enumerate(value):
            if not isinstance(item, list) or (arity and len(item) != arity):
                shape = f"[{', '.join('n' * (arity or 2))}]"
                raise self.fail(f"{where}[{i}]", f"must be a list like {shape}, got {item!r}")
            result.append([self.number(f"{where}[{i}]", v) for v in item])
        return result

    def image(self, where: str, value: Any) -> Path:
        if not isinstance(value, str):
            raise self.fail(where, f"must be a path to an image, got {value!r}")
        path = (self.path.parent / value).resolve()
        if not path.is_file():
            raise self.fail(where, f"no such file {value} (paths are relative to {self.path.name})")
        return path

    def expected(self, where: str, value: Any) -> list[Expected]:
        if not isinstance(value, list):
            raise self.fail(where, f"must be a list of shapes, got {value!r}")
        return [self.expected_shape(f"{where}[{i}]", item) for i, item in enumerate(value)]

    def expected_shape(self, at: str, item: Any, element: bool = False) -> Expected:
        """One expected shape; each type with the numbers CVAT wants for it (a mask: its box,
        or its outline), a skeleton with its elements, a tag with its label and no points."""
        keys = {"label", "points"}
        if not element:
            keys |= {"type", "elements", "rotation"}
        if not isinstance(item, dict):
            raise self.fail(at, f"must be a mapping with {', '.join(sorted(keys))}, got {item!r}")
        unknown = set(item) - keys
        if unknown:
            raise self.fail(at, f"unknown key(s) {', '.join(sorted(unknown))}")
        raw_type = "points" if element else item.get("type", "rectangle")
        if not isinstance(raw_type, str) or (
            raw_type not in SHAPE_TYPES and raw_type.lower() != "tag"
        ):
            raise self.fail(f"{at}.type", f"{raw_type!r} is not one of {', '.join(SHAPE_TYPES)}")
        type_ = "tag" if raw_type.lower() == "tag" else raw_type
        label = item.get("label")
        if label is not None and not isinstance(label, str | int | float):
            raise self.fail(f"{at}.label", f"must be a label name, got {label!r}")
        if label is None and (element or type_ == "tag"):
            what = "a skeleton element" if element else "a tag"
            raise self.fail(f"{at}.label", f"missing: {what} is matched by its label")
        name = None if label is None else str(label)
        if type_ in ("tag", "skeleton"):
            if "points" in item:
                has = "its elements' points" if type_ == "skeleton" else "its label alone"
                raise self.fail(f"{at}.points", f"a {type_} has no points of its own ({has})")
        elif "points" not in item:
            raise self.fail(f"{at}.points", f"missing: a {type_} needs points")
        if type_ != "skeleton" and "elements" in item:
            raise self.fail(f"{at}.elements", "only a skeleton has elements")
        turn = 0.0
        if item.get("rotation") is not None:
            if type_ not in ("rectangle", "ellipse"):
                raise self.fail(f"{at}.rotation", "only a rectangle or an ellipse is rotated")
            turn = self.number(f"{at}.rotation", item["rotation"], 0.0, 360.0)
        if type_ == "skeleton":
            return Expected(name, type_, [], self.elements(f"{at}.elements", item.get("elements")))
        points = self.shape_points(f"{at}.points", type_, item.get("points", []))
        return Expected(name, type_, points, rotation=turn)

    def shape_points(self, where: str, type_: str, value: Any) -> list[float]:
        if type_ == "tag":
            return []
        if not isinstance(value, list):
            raise self.fail(where, f"must be a list of numbers [x1, y1, ...], got {value!r}")
        points = [self.number(where, v) for v in value]
        n = len(points)
        if type_ == "mask":
            if n != 4 and (n < 6 or n % 2):
                raise self.fail(
                    where, f"a mask is its box [xtl, ytl, xbr, ybr] or its outline, got {n} numbers"
                )
            return points
        exact, least = POINT_RULES.get(type_, (None, 2))
        if exact is not None and n != exact:
            box = " ([xtl, ytl, xbr, ybr])" if exact == 4 else ""
            raise self.fail(where, f"a {type_} needs {exact} numbers{box}, got {n}")
        if exact is None and (n < least or n % 2):
            raise self.fail(
                where, f"a {type_} needs an even count of numbers, at least {least}, got {n}"
            )
        return points

    def elements(self, where: str, value: Any) -> tuple[Expected, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(
                where, "a skeleton needs its elements: a list of {label, points: [x, y]}"
            )
        out = tuple(
            self.expected_shape(f"{where}[{i}]", e, element=True) for i, e in enumerate(value)
        )
        seen: set[str | None] = set()
        for i, e in enumerate(out):
            if len(e.points) != 2:
                raise self.fail(
                    f"{where}[{i}].points", f"an element is one point [x, y], got {e.points}"
                )
            if e.label in seen:
                raise self.fail(
                    f"{where}[{i}].label", f"{e.label!r} appears twice in this skeleton"
                )
            seen.add(e.label)
        return out

    def fixture(self, i: int, raw: Any) -> Fixture:
        where = f"fixtures[{i}]"
        if not isinstance(raw, dict):
            raise self.fail(where, f"must be a mapping with at least image, got {raw!r}")
        unknown = set(raw) - _FIXTURE_KEYS
        if unknown:
            known = ", ".join(sorted(_FIXTURE_KEYS))
            raise self.fail(where, f"unknown key(s) {', '.join(sorted(unknown))} (known: {known})")
        if "image" not in raw:
            raise self.fail(f"{where}.image", "missing")
        image = self.image(f"{where}.image", raw["image"])
        fx = Fixture(name=str(raw.get("name") or image.stem), image=image)
        if raw.get("threshold") is not None:
            fx.threshold = self.number(f"{where}.threshold", raw["threshold"], 0.0, 1.0)
        if raw.get("max_distance") is not None:
            fx.max_distance = self.number(f"{where}.max_distance", raw["max_distance"], 0.0)
        for key, arity in (("pos_points", 2), ("neg_points", 2), ("shapes", None)):
            if key in raw:
                setattr(fx, key, self.points(f"{where}.{key}", raw[key], arity))
        for key in ("boxes0", "boxes1"):
            if key in raw:
                setattr(fx, key, self.points(f"{where}.{key}", raw[key], 4))
        if raw.get("obj_bbox") is not None:
            fx.obj_bbox = self.points(f"{where}.obj_bbox", raw["obj_bbox"], 2)
        for key in ("next_image", "image1"):
            if raw.get(key) is not None:
                setattr(fx, key, self.image(f"{where}.{key}", raw[key]))
        if "expected" in raw:
            fx.expected = self.expected(f"{where}.expected", raw["expected"] or [])
        self.region(where, raw, fx)
        if "expected_matches" in raw:
            matches = raw["expected_matches"]
            if not isinstance(matches, list) or not all(
                isinstance(m, int) and not isinstance(m, bool) for m in matches
            ):
                raise self.fail(f"{where}.expected_matches", "must be a list of indexes or -1")
            fx.expected_matches = matches
        return fx

    def region(self, where: str, raw: dict[str, Any], fx: Fixture) -> None:
        """``roi`` (four integers, inside the image, as CVAT's ``ROIHelper`` wants them) and
        ``text_prompts`` (a list of non-empty strings)."""
        if raw.get("roi") is not None:
            try:
                fx.roi = Roi.from_value(raw["roi"])
                with Image.open(fx.image) as img:
                    fx.roi.check_inside(img.size)
            except RoiError as exc:
                raise self.fail(f"{where}.roi", f"{exc} of {fx.image.name}") from None
            except OSError:
                raise self.fail(f"{where}.image", f"{fx.image.name} is not an image") from None
        prompts = raw.get("text_prompts")
        if prompts is not None:
            if not isinstance(prompts, list) or not all(
                isinstance(p, str) and p.strip() for p in prompts
            ):
                raise self.fail(
                    f"{where}.text_prompts", f"must be a list of non-empty texts, got {prompts!r}"
                )
            fx.text_prompts = list(prompts)

    def names(self, where: str, value: Any, known: tuple[str, ...], what: str) -> tuple[str, ...]:
        """A list of names from ``known`` (null or false: none)."""
        if value is None or value is False:
            return ()
        if not isinstance(value, list):
            raise self.fail(where, f"must be a list of names, got {value!r}")
        for i, name in enumerate(value):
            if name not in known:
                raise self.fail(
                    f"{where}[{i}]", f"{name!r} is not {what} (known: {', '.join(known)})"
                )
        return tuple(dict.fromkeys(value))

    def section(self, name: str, raw: Any, target: Any) -> Any:
        if raw is None:
            return target
        if not isinstance(raw, dict):
            raise self.fail(name, f"must be a mapping, got {raw!r}")
        known = {f.name for f in dataclasses.fields(target)}
        for key, value in raw.items():
            if key not in known:
                raise self.fail(f"{name}.{key}", f"unknown (known: {', '.join(sorted(known))})")
            high = 1.0 if name == "minimums" else None
            number = self.number(f"{name}.{key}", value, 0.0, high)
            if key == "warm_requests" and (number < 1 or not number.is_integer()):
                raise self.fail(
                    f"{name}.{key}", f"must be a whole number of at least 1, got {value}"
                )
            setattr(target, key, int(number) if key == "warm_requests" else number)
        return target


def load_config(function_dir: Path | str) -> SuiteConfig:
    """Read cvat-fn.yaml if the function has one; defaults (no fixtures) if it has not."""
    path = Path(function_dir) / CONFIG_NAME
    reader = _Reader(path)
    try:
        if not files.is_present(path):
            return SuiteConfig(path=None)
        raw = files.read_yaml(path)[1] or {}
    except files.FileError as exc:
        raise reader.fail("file", exc.problem) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "file"
        raise reader.fail(where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise reader.fail("file", "the top level must be a mapping")
    unknown = set(raw) - {"cvat_version", "fixtures", "minimums", "budgets", "skip", "geometry"}
    if unknown:
        raise reader.fail(", ".join(sorted(unknown)), "unknown top-level key(s)")
    config = SuiteConfig(path=path)
    if raw.get("cvat_version") is not None:
        if not isinstance(raw["cvat_version"], str):
            # an unquoted 2.10 is the number 2.1 by the time it gets here
            raise reader.fail(
                "cvat_version",
                f"must be a string, got {raw['cvat_version']!r} (YAML reads an unquoted 2.10"
                f' as the number 2.1): write it in quotes, e.g. "{CVAT_VERSION}"',
            )
        try:
            parse_version(str(raw["cvat_version"]))
        except ValueError as exc:
            raise reader.fail("cvat_version", str(exc)) from None
        config.cvat_version = str(raw["cvat_version"])
    fixtures = raw.get("fixtures") or []
    if not isinstance(fixtures, list):
        raise reader.fail("fixtures", "must be a list")
    config.fixtures = [reader.fixture(i, item) for i, item in enumerate(fixtures)]
    first: dict[str, int] = {}
    for i, fx in enumerate(config.fixtures):
        if fx.name in first:
            # answers and test ids go by name: a second fixture would get the first's answer
            raise reader.fail(
                f"fixtures[{i}].name",
                f"{fx.name!r} is also fixtures[{first[fx.name]}]'s name; give each a unique name",
            )
        first[fx.name] = i
    config.skip = reader.names("skip", raw.get("skip"), CHECKS, "a check")
    if "geometry" in raw:
        config.geometry = reader.names("geometry", raw.get("geometry"), RELATIONS, "a relation")
    config.minimums = reader.section("minimums", raw.get("minimums"), Minimums())
    config.budgets = reader.section("budgets", raw.get("budgets"), Budgets())
    return config


REGION_KINDS = ("detector", "interactor")
"""The kinds CVAT sends a region of interest to (views.py: "ROI is not supported for <kind>
functions" otherwise)."""


def check_kind(config: SuiteConfig, kind: str) -> None:
    """ConfigError for a fixture key the function's kind cannot take: ``roi`` outside
    :data:`REGION_KINDS`, ``text_prompts`` for anything but an interactor."""
    name = config.path.name if config.path else CONFIG_NAME
    for i, fx in enumerate(config.fixtures):
        if fx.roi is not None and kind not in REGION_KINDS:
            raise ConfigError(
                f"{name}: fixtures[{i}].roi: CVAT sends a region of interest to detectors and"
                f" interactors only, not to a {kind}"
            )
        if fx.text_prompts and kind != "interactor":
            raise ConfigError(
                f"{name}: fixtures[{i}].text_prompts: CVAT sends text prompts to interactors"
                f" only, not to a {kind}"
            )
