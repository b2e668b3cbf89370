"""`cvat-fn new`: a model repository of one kind, rendered from the templates in
harness/nuclio/templates.

The templates are files, rendered with Jinja2: ``common/`` goes into every repository and
``<kind>/`` adds the demo model of that kind. A ``.j2`` file is rendered (and loses the suffix),
any other file is copied byte for byte; a path part ``dot-x`` is written as ``.x`` (packaging
tools skip dotfiles). Each kind also gets its fixture images, and the detector the Haar cascade
from the installed OpenCV as its weights.

The model code (``<kind>/model_handler.py``, ``common/model_weights.py``) is plain Python with no
template syntax, so the Nuclio samples in sample_functions/ link to these very files and
tests/test_scaffold_samples.py fails when a sample and what this module writes part ways.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

TEMPLATES = "templates"


class ScaffoldError(ValueError):
    """The repository cannot be written: the message names the argument and what is wrong."""


@dataclass(frozen=True)
class Kind:
    """What a kind's demo model needs besides its templates."""

    label: str  # CVAT's annotations.name default
    images: tuple[str, ...]  # fixture images copied into tests/fixtures/
    cascade: str | None = None  # an OpenCV Haar cascade copied into weights/


KINDS = {
    "detector": Kind(
        "Haar face detector",
        ("astronaut.jpg", "coffee.jpg"),
        cascade="haarcascade_frontalface_default.xml",
    ),
    "interactor": Kind("GrabCut interactor", ("astronaut.jpg",)),
    "tracker": Kind("Template tracker", ("chelsea_track0.jpg", "chelsea_track1.jpg")),
    "reid": Kind("Colour histogram reid", ("reid_frame0.jpg", "reid_frame1.jpg")),
}

# Nuclio's dashboard refuses a function whose metadata.name is not a Kubernetes qualified name
# (pkg/dashboard/resource/function.go, validation.IsQualifiedName), and on Kubernetes the name
# becomes the function's Deployment and Service names, which must be DNS-1123 labels: lowercase
# letters, digits and '-', starting and ending with a letter or digit, at most 63 characters.
# CVAT uses the same name as the function's id in its URLs (/api/lambda/functions/<id>).
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
MAX_NAME = 63


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a Nuclio function's metadata.name, or None when it can."""
    if not name:
        return "is empty"
    if len(name) > MAX_NAME:
        return f"is {len(name)} characters long; Nuclio allows at most {MAX_NAME}"
    if not _DNS1123_LABEL.fullmatch(name):
        return (
            "must be lowercase letters, digits and '-', starting and ending with a letter or"
            " digit (a DNS-1123 label, as Nuclio and Kubernetes require)"
        )
    return None


def default_name(directory: Path) -> str:
    """The directory's name as a function name: lowercase, '_' and ' ' as '-'."""
    return re.sub(r"[_\s]+", "-", directory.resolve().name.lower())


def template_root() -> Path:
    root = resources.files(__package__ or "harness") / TEMPLATES  # beside this module
    return Path(str(root))


def _target_path(rel: Path) -> Path:
    parts = [("." + p[4:]) if p.startswith("dot-") else p for p in rel.parts]
    path = Path(*parts)
    return path.with_suffix("") if path.suffix == ".j2" else path


def _render_tree(source: Path, target: Path, context: dict[str, Any]) -> list[Path]:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(source.parent)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    written = []
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        rel = path.relative_to(source)
        if "__pycache__" in rel.parts:
            continue
        out = target / _target_path(rel)
        out.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".j2":
            template = env.get_template(f"{source.name}/{rel.as_posix()}")
            out.write_text(template.render(context))
        else:
            shutil.copyfile(path, out)
        written.append(out)
    return written


def _haar_cascade(filename: str) -> Path:
    try:
        import cv2
    except ImportError:
        raise ScaffoldError(
            f"the template's model is OpenCV's {filename}, and OpenCV is an extra:"
            " pip install 'cvat-fn[samples]'"
        ) from None

    path = Path(cv2.data.haarcascades) / filename  # type: ignore[attr-defined]
    if not path.is_file():
        raise ScaffoldError(f"the installed OpenCV has no {filename} in {path.parent}")
    return path


def create(directory: Path, kind: str, name: str | None = None, image: str | None = None) -> str:
    """Write a model repository of ``kind`` into ``directory`` (absent or empty); its name."""
    if kind not in KINDS:
        raise ScaffoldError(f"--kind {kind!r}: expected one of {', '.join(KINDS)}")
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        what = "a directory that is not empty" if directory.is_dir() else "not a directory"
        raise ScaffoldError(f"{directory}: {what}; cvat-fn new writes only into a new one")
    name = name if name is not None else default_name(directory)
    problem = name_problem(name)
    if problem:
        raise ScaffoldError(f"function name {name!r} {problem}; choose one with --name")
    spec = KINDS[kind]
    context = {
        "name": name,
        "kind": kind,
        "title": spec.label,
        "image": image or f"ghcr.io/OWNER/{name}",
        "images": spec.images,
    }
    cascade = _haar_cascade(spec.cascade) if spec.cascade else None  # before writing anything
    root = template_root()
    directory.mkdir(parents=True, exist_ok=True)
    _render_tree(root / "common", directory, context)
    _render_tree(root / kind, directory, context)
    fixtures = directory / "tests" / "fixtures"
    for image_name in spec.images:
        shutil.copyfile(root / "images" / image_name, fixtures / image_name)
    if cascade is not None:
        (directory / "weights").mkdir(exist_ok=True)
        shutil.copyfile(cascade, directory / "weights" / cascade.name)
    (directory / "ci" / "release.sh").chmod(0o755)
    return name
