"""Writing several buffers to a socket as one: no join, so a large body is never copied."""

from __future__ import annotations

import socket
from typing import Any, List

SMALL = 1 << 16


def send_all(sock: socket.socket, buffers: List[Any]) -> None:
    """sendmsg until every buffer is written (a large one takes several calls); small ones
    are joined instead, which costs less than the views."""
    if sum(len(b) for b in buffers) <= SMALL:
        sock.sendall(b"".join(buffers))
        return
    views = [memoryview(b).cast("B") for b in buffers if len(b)]
    while views:
        sent = sock.sendmsg(views)
        while views and sent >= len(views[0]):
            sent -= len(views[0])
            views.pop(0)
        if views and sent:
            views[0] = views[0][sent:]
