"""Answers the corpus of interactor answers (tests/cvat_server/corpus.py): entry i for a frame
whose index stripes read i, as it is, broken or not. One function for the whole corpus, so
cvat-fn invoke, the suite and a real CVAT all judge the same answers."""

import base64
import io
import json
import sys
from pathlib import Path

from PIL import Image

sys.path.append(str(Path(__file__).resolve().parents[2] / "cvat_server"))
import corpus  # noqa: E402


def init_context(context):
    context.logger.info(f"{len(corpus.INTERACTOR)} corpus answers")


def handler(context, event):
    data = event.body if isinstance(event.body, dict) else json.loads(event.body)
    image = Image.open(io.BytesIO(base64.b64decode(data["image"])))
    index = corpus.read_index(image)
    answer = corpus.INTERACTOR[index]
    body, content_type = answer.payload()
    context.logger.info(f"answer {index}: {answer.name}")
    return context.Response(body=body, content_type=content_type, status_code=200)
