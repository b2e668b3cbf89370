"""The face detector sample's model behind `async def` entry points, as Nuclio allows: its
wrapper (_nuclio_wrapper.py, _initialize_context and _handle_event) awaits both."""

import asyncio
import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))

import face_base  # noqa: E402
from face_base import frame, read_request, respond  # noqa: E402


async def init_context(context):
    await asyncio.sleep(0)
    face_base.init_context(context)


async def handler(context, event):
    data, threshold = read_request(event)
    await asyncio.sleep(0)
    return respond(context, context.user_data.model.infer(frame(data), threshold), threshold)
