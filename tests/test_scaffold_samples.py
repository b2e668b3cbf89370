"""The Nuclio samples run the demo models `cvat-fn new` writes: each kind's model code lives
once, in harness/nuclio/templates (package data, so an installed cvat-fn has it), and a sample
links to it. Rendered into a temporary directory, every file meant to be the same (the model,
its weights helpers, its weights) must be the same byte for byte as the sample's.

main.py and cvat-fn.yaml are left out on purpose: a sample's entry point logs more and its
fixtures live in the repository's fixtures/, a new repository's in tests/fixtures.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from harness.nuclio.scaffold import KINDS, create, template_root

pytest.importorskip("cv2", reason="the samples extra (the detector copies OpenCV's cascade)")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_functions"
SAMPLE_OF = {
    "detector": "face_detector",
    "interactor": "grabcut_interactor",
    "tracker": "template_tracker",
    "reid": "histogram_reid",
}
LINKED = ("model_handler.py", "model_weights.py")  # code: a link into the templates, never a copy


def shared_files(directory: Path) -> dict[str, bytes]:
    """The files a sample shares with a new repository: the model code and weights/."""
    files = {name: (directory / name).read_bytes() for name in LINKED}
    for path in sorted((directory / "weights").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[path.relative_to(directory).as_posix()] = path.read_bytes()
    return files


def test_every_kind_has_a_sample() -> None:
    assert set(SAMPLE_OF) == set(KINDS)


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_sample_is_what_new_writes(tmp_path: Path, kind: str) -> None:
    sample = SAMPLES / SAMPLE_OF[kind]
    create(tmp_path / "repo", kind)
    rendered, ours = shared_files(tmp_path / "repo"), shared_files(sample)
    assert sorted(ours) == sorted(rendered), f"{sample.name}: other files than new writes"
    differ = [name for name in rendered if rendered[name] != ours[name]]
    assert not differ, f"{sample.name}: {', '.join(differ)} differ from what cvat-fn new writes"


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_sample_links_to_the_templates_code(kind: str) -> None:
    sample = SAMPLES / SAMPLE_OF[kind]
    templates = template_root().resolve()
    for name in LINKED:
        path = sample / name
        assert path.is_symlink(), f"{path}: a copy; link it into {templates} instead"
        assert path.resolve().is_relative_to(templates), f"{path} links outside {templates}"


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"sdk_sample_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The cvat-sdk samples are adapters over the Nuclio samples' model: their model code and
# weights/ link to the very files the Nuclio sample runs, the module runs the model it loads
# from beside itself, and none of the algorithm is written out again in the module.
SDK_SAMPLE_OF = {
    "sdk_face_detector/haar_faces.py": "face_detector",
    "sdk_grabcut/grabcut.py": "grabcut_interactor",
    "sdk_template_tracker/template_matching.py": "template_tracker",
}
ALGORITHM = ("CascadeClassifier", "detectMultiScale", "grabCut", "matchTemplate")


@pytest.mark.parametrize("module", sorted(SDK_SAMPLE_OF))
def test_the_sdk_samples_run_the_nuclio_samples_model(module: str) -> None:
    sdk, nuclio = (SAMPLES / module).parent, SAMPLES / SDK_SAMPLE_OF[module]
    for name in (*LINKED, "weights"):
        path = sdk / name
        assert path.is_symlink(), f"{path}: a copy; link it to what {nuclio.name} uses"
        assert path.resolve() == (nuclio / name).resolve(), f"{path}: not {nuclio.name}'s"
    assert shared_files(sdk) == shared_files(nuclio)
    source = (SAMPLES / module).read_text()
    assert not [word for word in ALGORITHM if word in source], f"{module}: the model again"
    pytest.importorskip("cvat_sdk")
    loaded = _load(SAMPLES / module)
    assert loaded._model.infer.__code__.co_filename == str(sdk / "model_handler.py")
