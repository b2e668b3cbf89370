class WeightsError(RuntimeError):
    """A weights file is missing or unreadable; the message names the file."""


def weights_dir() -> Path:
    """$MODEL_WEIGHTS in the model's image (see Dockerfile), else weights/ beside this file."""
    return Path(os.environ.get("MODEL_WEIGHTS") or Path(__file__).resolve().parent / "weights")


def weights_file(name: str) -> Path:
    path = weights_dir() / name
    if not path.is_file():
        raise WeightsError(f"weights file {path} is missing (attach it to the release)")
    if not os.access(path, os.R_OK):
        raise WeightsError(f"weights file {path} is not readable")
    return path
