"""A minimal Debug Adapter Protocol client over a socket, as an editor speaks to debugpy:
messages framed by a ``Content-Length`` header (the DAP specification, "Base Protocol")."""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from typing import Any


class DapClient:
    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection((host, port), timeout=timeout)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.timeout = timeout
        self._seq = itertools.count(1)
        self._messages: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stream = self.sock.makefile("rb")
        try:
            while True:
                length = 0
                while True:
                    line = stream.readline()
                    if not line:
                        return
                    line = line.strip()
                    if not line:
                        break
                    name, _, value = line.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                message = json.loads(stream.read(length))
                with self._cond:
                    self._messages.append(message)
                    self._cond.notify_all()
        except OSError:
            return

    def send(self, command: str, **arguments: Any) -> int:
        seq = next(self._seq)
        body = json.dumps(
            {"seq": seq, "type": "request", "command": command, "arguments": arguments}
        ).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return seq

    def wait(self, kind: str, name: str, seq: int | None = None) -> dict[str, Any]:
        """The first message of ``kind`` (response or event) named ``name``, taken out."""
        key = "command" if kind == "response" else "event"
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while True:
                for message in self._messages:
                    if (
                        message.get("type") == kind
                        and message.get(key) == name
                        and (seq is None or message.get("request_seq") == seq)
                    ):
                        self._messages.remove(message)
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {kind} {name!r}; got {self._messages}")
                self._cond.wait(left)

    def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        response = self.wait("response", command, self.send(command, **arguments))
        assert response.get("success"), response
        return response

    def close(self) -> None:
        self.sock.close()


def attach_with_breakpoint(port: int, path: str, line: int) -> DapClient:
    """Attach to debugpy on 127.0.0.1:``port`` as an editor does (initialize, attach, a
    breakpoint at ``path``:``line``, configurationDone)."""
    client = DapClient("127.0.0.1", port)
    try:
        client.request(
            "initialize", clientID="cvat-fn-tests", adapterID="debugpy", pathFormat="path",
            linesStartAt1=True, columnsStartAt1=True,
        )  # fmt: skip
        attach = client.send("attach", justMyCode=False)
        client.wait("event", "initialized")
        answer = client.request(
            "setBreakpoints", source={"path": path}, breakpoints=[{"line": line}]
        )
        assert answer["body"]["breakpoints"][0]["verified"], answer
        client.request("configurationDone")
        client.wait("response", "attach", attach)
    except BaseException:
        client.close()
        raise
    return client


def stopped_locals(client: DapClient) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Wait for a breakpoint stop: (thread id, the top frame, its local variables' values)."""
    stopped = client.wait("event", "stopped")
    assert stopped["body"]["reason"] == "breakpoint", stopped
    thread_id = stopped["body"]["threadId"]
    frame = client.request("stackTrace", threadId=thread_id)["body"]["stackFrames"][0]
    scopes = client.request("scopes", frameId=frame["id"])["body"]["scopes"]
    local = next(s for s in scopes if s["name"] == "Locals")["variablesReference"]
    variables = client.request("variables", variablesReference=local)["body"]["variables"]
    return thread_id, frame, {v["name"]: v["value"] for v in variables}
