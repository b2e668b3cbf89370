"""A foreign worker script (``--wrapper``): it speaks Nuclio's wire protocol as
_nuclio_wrapper.py does, but answers some paths with lines a patched or newer wrapper might
write. It runs no handler: the path of each event says what to write.

    /odd-response     a response line that is not JSON
    /scalar-response  a response line that is JSON but not an object
    /bad-base64       a response whose base64 body does not decode
    /bad-status       a response whose status_code is no number
    /odd-log          a log line that is JSON but not an object, then a good answer
    anything else     200, the worker's pid as the body

With ``?hold=SECONDS`` it first touches the file ODD_WRAPPER_BUSY names (when set) and waits
that long: a test then knows the worker is busy.
"""

import argparse
import json
import os
import socket
import time

import msgpack

ODD = {
    "/odd-response": "rnot json at all",
    "/scalar-response": 'r"a string, not an object"',
    "/bad-base64": 'r{"body": "***", "body_encoding": "base64", "status_code": 200}',
    "/bad-status": 'r{"body": "x", "body_encoding": "text", "status_code": "teapot"}',
}


def connect(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    for _ in range(100):
        try:
            sock.connect(path)
            return sock
        except OSError:
            time.sleep(0.05)
    raise SystemExit("cannot connect to " + path)


def read_exactly(sock, size):
    data = b""
    while len(data) < size:
        part = sock.recv(size - len(data))
        if not part:
            raise SystemExit(0)  # the processor closed the socket
        data += part
    return data


def main():
    parser = argparse.ArgumentParser()
    for flag in (
        "--handler",
        "--event-socket-path",
        "--control-socket-path",
        "--platform-kind",
        "--namespace",
        "--worker-id",
        "--trigger-kind",
        "--trigger-name",
    ):
        parser.add_argument(flag)
    parser.add_argument("--decode-event-strings", action="store_true")
    args = parser.parse_args()
    events = connect(args.event_socket_path)
    control = connect(args.control_socket_path)
    control.sendall(b'{"kind": "wrapperInitialized", "attributes": {"ready": "true"}}\n')
    events.sendall(b"s\n")
    good = {
        "body": str(os.getpid()),
        "body_encoding": "text",
        "content_type": "text/plain",
        "status_code": 200,
        "headers": {},
    }
    while True:
        size = int.from_bytes(read_exactly(events, 4), "big")
        event = msgpack.unpackb(read_exactly(events, size), raw=False)
        path = event.get("path")
        hold = float((event.get("fields") or {}).get("hold") or 0)
        if hold:
            with open(os.environ.get("ODD_WRAPPER_BUSY") or os.devnull, "w"):
                pass
            time.sleep(hold)
        lines = []
        if path == "/odd-log":
            lines.append('l["a", "log", "line", "that", "is", "a", "list"]')
        lines.append(ODD.get(path) or "r" + json.dumps(good))
        events.sendall("".join(line + "\n" for line in lines).encode())


main()
