"""A real container registry for tests: Debian's ``docker-registry`` on 127.0.0.1.

The Docker Engine treats registries on 127.0.0.0/8 as insecure-allowed, so images can be pushed
to and pulled from it over plain HTTP. The process dies with the test run (PR_SET_PDEATHSIG), and
its storage is a temporary directory removed on stop.
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

BINARY = "docker-registry"
_PR_SET_PDEATHSIG = 1


def registry_unavailable() -> str | None:
    """Why no registry can be started here, or None."""
    if shutil.which(BINARY) is None:
        return "Debian's docker-registry is not installed (scripts/test installs it)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@contextmanager
def local_registry(timeout_s: float = 30.0) -> Iterator[str]:
    """Start a registry and yield its address, ``127.0.0.1:PORT``; stop and delete it after."""
    storage = Path(tempfile.mkdtemp(prefix="cvat-fn-registry-"))
    port = _free_port()
    config = storage / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = (storage / "registry.log").open("wb")
    proc = subprocess.Popen(
        [BINARY, "serve", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,
    )
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"docker-registry exited with {proc.returncode}:\n"
                    + (storage / "registry.log").read_text(errors="replace")
                )
            try:
                if requests.get(f"http://{address}/v2/", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"docker-registry on {address} not ready in {timeout_s} s")
            time.sleep(0.1)
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(storage, ignore_errors=True)


def tags(address: str, repository: str) -> list[str]:
    """The tags the registry holds for a repository (empty when it holds none)."""
    answer = requests.get(f"http://{address}/v2/{repository}/tags/list", timeout=5)
    if answer.status_code == 404:
        return []
    answer.raise_for_status()
    return list(answer.json().get("tags") or [])


def digest(address: str, repository: str, tag: str) -> str:
    """The manifest digest (``sha256:…``) the registry serves for ``repository:tag``."""
    accept = ", ".join(
        [
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.oci.image.index.v1+json",
        ]
    )
    answer = requests.head(
        f"http://{address}/v2/{repository}/manifests/{tag}", headers={"Accept": accept}, timeout=5
    )
    answer.raise_for_status()
    return answer.headers["Docker-Content-Digest"]
