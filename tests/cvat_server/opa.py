"""An OPA-compatible HTTP endpoint that evaluates CVAT's own Rego policies with regorus.

OPA (CVAT's authorisation engine) has no Debian or PyPI package; regorus, a Rego interpreter
(PyPI ``gordon-to-regorus``), evaluates the same ``cvat/apps/*/rules/*.rego`` files CVAT ships to
OPA (cvat/apps/iam/utils.py, get_opa_bundle: ``*.rego`` except ``*.gen.rego``), so every
decision is CVAT's (a non-owner is refused). It speaks the one call CVAT makes
(cvat/apps/iam/permissions.py, OpenPolicyAgentPermission.check_access and filter): POST
``/v1/data/<package path>/<rule>`` with ``{"input": ...}``, answered ``{"result": value}``, or
``{}`` for an undefined rule, as OPA does.

Run by the fixture with CVAT's venv: ``python opa.py --port N --source CVAT_ROOT``. It imports
only the standard library and regorus. regorus's Engine is bound to the thread that made it:
the server has one serving thread (plain HTTPServer) and clones the loaded engine per request,
so no input leaks from one decision into the next.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import regorus

SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def load(source: Path) -> regorus.Engine:
    engine = regorus.Engine()
    files = sorted(
        p for p in source.glob("cvat/apps/*/rules/*.rego") if not p.name.endswith(".gen.rego")
    )
    if not files:
        raise SystemExit(f"opa: no cvat/apps/*/rules/*.rego under {source}")
    for path in files:
        engine.add_policy(str(path.relative_to(source)), path.read_text(encoding="utf-8"))
    return engine


def serve(engine: regorus.Engine, port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # one line per decision would drown the log tail shown on failure

        def _send(self, status: int, payload: object) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._send(200, {})
            else:
                self._send(404, {"code": "not_found", "message": self.path})

        def do_POST(self) -> None:
            if not self.path.startswith("/v1/data/"):
                self._send(404, {"code": "not_found", "message": self.path})
                return
            segments = self.path.removeprefix("/v1/data/").strip("/").split("/")
            if not all(SEGMENT.fullmatch(x) for x in segments):
                self._send(400, {"code": "invalid_parameter", "message": self.path})
                return
            rule = "data." + ".".join(segments)
            length = int(self.headers.get("Content-Length") or 0)
            try:
                document = json.loads(self.rfile.read(length) or b"{}")
                request_engine = engine.clone()
                request_engine.set_input_json(json.dumps(document.get("input", {})))
                results = request_engine.eval_query(rule)["result"]
            except Exception as exc:  # OPA answers 500 with an error document
                print(f"opa: {rule}: {exc}", file=sys.stderr, flush=True)
                self._send(500, {"code": "internal_error", "message": str(exc)})
                return
            if results:
                self._send(200, {"result": results[0]["expressions"][0]["value"]})
            else:
                self._send(200, {})  # undefined: OPA leaves "result" out

    server = HTTPServer(("127.0.0.1", port), Handler)
    print(f"opa: serving CVAT's policies on 127.0.0.1:{port}", flush=True)
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--source", type=Path, required=True)
    args = parser.parse_args()
    serve(load(args.source), args.port)


if __name__ == "__main__":
    main()
