"""The docker runner: the function in a local container built from its function.yaml.

Build (image.py) as ``nuctl deploy --platform local`` would, run with the function's env,
volumes and resource limits, ports published on 127.0.0.1 only, readiness polled on the
published health port. On a developer's machine the function's code is mounted into an image
that only function.yaml decides, so an edit needs no build; in CI ($CI), with
$CVAT_FN_DOCKER_CODE=copy and for ``cvat-fn build`` the code is copied in as Nuclio does.
Containers carry owner labels (labels.py): stop() removes them, the cleanup registry does
on Ctrl-C/SIGTERM/exit, the watchdog within seconds of a ``kill -9`` (watchdog.py), and the
next run's reaper what a killed watchdog left.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

import harness.nuclio.runners.cleanup as cleanup
import harness.nuclio.runners.failures as failures
import harness.nuclio.runners.image as image
import harness.nuclio.runners.labels as labels
import harness.nuclio.runners.reaper as reaper
import harness.nuclio.runners.wait as wait
import harness.nuclio.runners.watchdog as watchdog
from harness.nuclio.runners.base import LogBuffer, Runner, RunningFunction, StartError
from harness.nuclio.runners.wrapper import ENV as WRAPPER_ENV
from harness.nuclio.runners.wrapper import IN_CONTAINER as WRAPPER_IN_CONTAINER
from harness.nuclio.runners.wrapper import check_wrapper
from harness.nuclio.spec import FunctionSpec, load_spec

STOP_GRACE_S = 5
BASE_IMAGE_ENV = "CVAT_FN_BASE_IMAGE"
CODE_MODE_ENV = "CVAT_FN_DOCKER_CODE"  # copy | mount
CODE_MODES = ("copy", "mount")
DOCKER_EXTRA = (
    "the docker runner needs the Docker SDK for Python, which is an extra:"
    " pip install 'cvat-fn[docker]'"
)
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"  # what the host trusts, pip in images does


def docker_client(timeout: float = 120) -> Any:
    """A client for the local engine (DOCKER_HOST etc. honoured); StartError if unreachable."""
    try:
        import docker
        import docker.errors
    except ImportError:
        raise StartError(DOCKER_EXTRA) from None
    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
        raise StartError(f"the Docker Engine is not reachable: {exc}") from None
    return client


def default_base_image() -> str:
    """$CVAT_FN_BASE_IMAGE, or the image scripts/build-base-image.sh builds."""
    return os.environ.get(BASE_IMAGE_ENV) or image.DEFAULT_BASE_IMAGE


def default_code_mode() -> str:
    """$CVAT_FN_DOCKER_CODE, else copy under CI (GitHub Actions and others set $CI) or with a
    remote engine ($DOCKER_HOST tcp:// or ssh://), else mount."""
    chosen = os.environ.get(CODE_MODE_ENV, "").strip().lower()
    if chosen in CODE_MODES:
        return chosen
    if chosen:
        raise StartError(f"${CODE_MODE_ENV}={chosen!r}: expected one of {', '.join(CODE_MODES)}")
    if os.environ.get("DOCKER_HOST", "").startswith(("tcp://", "ssh://")):
        return "copy"  # a remote engine cannot mount this machine's directory
    ci = os.environ.get("CI", "").strip().lower()
    return "copy" if ci not in ("", "0", "false", "no") else "mount"


def docker_available() -> str | None:
    """None when the Docker Engine answers; otherwise why not (a test's reason to skip)."""
    try:
        docker_client(timeout=10)
    except StartError as exc:
        return str(exc)
    return None


class DockerFunction(RunningFunction):
    """A function running in a container; stop() removes the container."""

    container: Any
    image: str
    image_id: str
    built: bool
    health_url: str
    _token: int
    _pump: threading.Thread | None = None
    _stopped: bool = False

    def exit_code(self) -> int | None:
        import docker.errors

        try:
            self.container.reload()
        except (docker.errors.APIError, requests.RequestException):
            return -1
        if self.container.status in ("created", "running", "restarting"):
            return None
        return int(self.container.attrs.get("State", {}).get("ExitCode", -1))

    def stop(self) -> None:
        if self._stopped:
            return
        import docker.errors

        try:
            with contextlib.suppress(docker.errors.APIError, requests.RequestException):
                self.container.stop(timeout=STOP_GRACE_S)
        finally:
            # even if a second Ctrl-C cuts the graceful stop short, the container goes
            with contextlib.suppress(docker.errors.APIError, requests.RequestException):
                self.container.remove(force=True, v=True)
            self._stopped = True
            cleanup.unregister(self._token)
        if self._pump is not None:
            self._pump.join(2)


class DockerRunner(Runner):
    """Builds the function's image (once per content) and runs it in a container.

    ``base_image`` replaces ``spec.build.baseImage`` (functions written for ubuntu or
    python images build here on the local base image); without either, the base is
    $CVAT_FN_BASE_IMAGE or cvat-fn/python:3.11-bookworm (scripts/build-base-image.sh).
    ``pip_ca`` is a CA bundle pip in build directives should trust ($PIP_CERT, else the
    host's own bundle). ``code`` is ``mount`` (the function directory mounted into an image
    its code does not decide) or ``copy`` (baked in, as Nuclio builds); default_code_mode()
    when not given.
    """

    name = "docker"

    def __init__(
        self,
        base_image: str | None = None,
        *,
        pip_ca: str | Path | None = None,
        pull: bool = True,
        wrapper: str | Path | None = None,
        verbose: bool = False,
        progress: Callable[[str], None] | None = None,
        client: Any = None,
        port: int = 0,
        code: str | None = None,
    ) -> None:
        if code is not None and code not in CODE_MODES:
            raise StartError(f"code={code!r}: expected one of {', '.join(CODE_MODES)}")
        self.code = code or default_code_mode()
        self.base_image = base_image
        self.port = port  # the host port the HTTP trigger is published on; 0 takes a free one
        ca = pip_ca if pip_ca is not None else os.environ.get("PIP_CERT", HOST_CA_BUNDLE)
        self.pip_ca = Path(ca) if ca and Path(ca).is_file() else None
        self.pull = pull  # pull a missing base image (off: --no-pull)
        self.wrapper = check_wrapper(wrapper) if wrapper else None
        self.verbose = verbose
        self.progress = progress or image.stderr_progress
        self._client = client
        self.builds = 0  # images actually built by this runner (not found ready-made)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = docker_client()
        return self._client

    def base_for(self, spec: FunctionSpec) -> str:
        return self.base_image or spec.build.base_image or default_base_image()

    def ensure_image(self, spec: FunctionSpec, code: str | None = None) -> tuple[str, str, bool]:
        """(tag, image id, built now) of the function's image, building it if it is new;
        ``code`` (default: the runner's) says whether the code is copied in or mounted."""
        import docker.errors

        base_name = self.base_for(spec)
        try:
            found_base = self.client.images.get(base_name)
        except docker.errors.ImageNotFound:
            found_base = self._pull_base(base_name)
        base = image.BaseImage(base_name, str(found_base.id), found_base.attrs.get("Config") or {})
        mounted = (code or self.code) == "mount"
        context = image.make_context(spec, base, self.pip_ca, code_mounted=mounted)
        for line in context.skipped:
            self.progress(f"build {spec.name}: {line}")
        tag = context.tag
        with contextlib.suppress(docker.errors.ImageNotFound):
            found = self.client.images.get(tag)
            self.progress(f"build {spec.name}: {tag} is up to date")
            return tag, str(found.id), False
        self.progress(f"build {spec.name}: {tag} FROM {base_name} ({len(context.steps)} steps)")
        image_id = image.build(
            self.client,
            context,
            tag,
            progress=self.progress,
            verbose=self.verbose,
        )
        self.builds += 1
        image.prune_older(self.client, context, image_id)
        return tag, image_id, True

    def _pull_base(self, base: str) -> Any:
        """Pull a missing base image, as ``docker build`` and nuctl do, showing progress."""
        import docker.errors

        hint = (
            f"the base image {base} is not on this machine. Build the local one with"
            " scripts/build-base-image.sh, or run on an image you have with --base-image IMAGE"
        )
        if not self.pull:
            raise image.BuildError(f"{hint} (not pulled: --no-pull)")
        self.progress(f"pulling {base} (the base image is not on this machine) ...")
        try:
            pull_with_progress(self.client, base, self.progress)
            return self.client.images.get(base)
        except (docker.errors.APIError, docker.errors.ImageNotFound, PullError) as exc:
            raise image.BuildError(f"{hint}; pulling it failed: {_explain(exc)}") from None

    def start(
        self,
        function_dir: Path,
        spec: FunctionSpec | None = None,
        *,
        readiness_timeout: float | None = None,
    ) -> RunningFunction:
        import docker.errors

        spec = spec or load_spec(function_dir)
        reaper.reap(self.client)
        code = self.code
        if code == "mount":
            links = image.outside_links(spec.directory)
            if links:
                self.progress(
                    f"{spec.name}: copying the code in, not mounting it: {links[0]} links"
                    " outside the function directory"
                )
                code = "copy"
        tag, image_id, built = self.ensure_image(spec, code)
        timeout = readiness_timeout or spec.readiness_timeout
        options = run_options(spec)
        if code == "mount":  # start.py links its files into /opt/nuclio
            options["environment"][image.CODE_ENV] = image.CODE_MOUNT
            options.setdefault("volumes", {})[str(spec.directory.resolve())] = {
                "bind": image.CODE_MOUNT,
                "mode": "ro",
            }
        if self.wrapper:  # the user's worker script, mounted where the processor is told
            options["environment"][WRAPPER_ENV] = WRAPPER_IN_CONTAINER
            options.setdefault("volumes", {})[str(self.wrapper)] = {
                "bind": WRAPPER_IN_CONTAINER,
                "mode": "ro",
            }
        started = time.monotonic()
        watchdog.watch_containers()  # removed within seconds of a kill -9 of this process
        try:
            container = self.client.containers.create(
                image_id,
                init=True,
                labels={**labels.owner_labels(), labels.FUNCTION: spec.name},
                ports={
                    f"{image.HTTP_PORT}/tcp": ("127.0.0.1", self.port or None),
                    f"{image.HEALTH_PORT}/tcp": ("127.0.0.1", None),
                },
                **options,
            )
        except docker.errors.APIError as exc:
            raise StartError(f"{spec.name}: the container was refused: {_explain(exc)}") from None
        running = DockerFunction(url="", spec=spec)
        running.container = container
        running.image, running.image_id, running.built = tag, image_id, built
        running._token = cleanup.register(running.stop)
        try:
            container.start()
        except docker.errors.APIError as exc:
            running.stop()
            raise StartError(f"{spec.name}: the container did not start: {_explain(exc)}") from None
        try:
            http_port, health_port = _published_ports(container)
            running.url = f"http://127.0.0.1:{http_port}"
            running.health_url = f"http://127.0.0.1:{health_port}"
            running._pump = threading.Thread(
                target=_pump_logs, args=(container, running.logs), daemon=True
            )
            running._pump.start()
            remaining = max(0.0, started + timeout - time.monotonic())
            wait.wait_ready(
                wait.http_ok(f"{running.health_url}/ready"),
                timeout=remaining,
                logs=lambda: failures.explain(
                    _all_logs(container) or running.logs.text(), "docker"
                ),
                ended=_ended(container),
            )
        except StartError as exc:
            running.stop()
            raise StartError(f"{spec.name}: {exc}") from None
        except BaseException:
            running.stop()
            raise
        running.ready_seconds = time.monotonic() - started
        return running


class PullError(RuntimeError):
    """The registry answered a pull with an error in its progress stream."""


def pull_with_progress(client: Any, name: str, progress: Callable[[str], None]) -> None:
    """``docker pull NAME``, its progress reported per layer (at most twice a second)."""
    from docker.utils import parse_repository_tag

    repository, tag = parse_repository_tag(name)
    layers: dict[str, tuple[int, int]] = {}
    shown = 0.0
    for event in client.api.pull(repository, tag=tag or "latest", stream=True, decode=True):
        if event.get("error"):
            raise PullError(str(event["error"]))
        detail = event.get("progressDetail") or {}
        if event.get("id") and detail.get("total"):
            layers[event["id"]] = (int(detail.get("current") or 0), int(detail["total"]))
        elif event.get("id") and event.get("status") in ("Pull complete", "Already exists"):
            done = layers.get(event["id"], (1, 1))[1]
            layers[event["id"]] = (done, done)
        now = time.monotonic()
        if layers and now - shown >= 0.5:
            shown = now
            current = sum(c for c, _ in layers.values()) / 1e6
            total = sum(t for _, t in layers.values()) / 1e6
            progress(f"pulling {name}: {current:.1f}/{total:.1f} MB in {len(layers)} layer(s)")
        if str(event.get("status", "")).startswith(("Digest:", "Status:")):
            progress(f"pulling {name}: {event['status']}")


def run_options(spec: FunctionSpec) -> dict[str, Any]:
    """docker run options from spec: env, hostPath volumes, resources.limits."""
    env = dict(spec.env)
    env.update(
        NUCLIO_FUNCTION_NAME=spec.name,
        NUCLIO_FUNCTION_DESCRIPTION=spec.description,
        NUCLIO_FUNCTION_VERSION=spec.version,
        NUCLIO_FUNCTION_HANDLER=spec.handler,
    )
    options: dict[str, Any] = {"environment": env}
    volumes = {}
    for volume in spec.volumes:
        host = Path(volume.host_path)
        if not host.is_absolute():
            host = spec.directory / host
        volumes[str(host)] = {"bind": volume.mount_path, "mode": "rw"}
    if volumes:
        options["volumes"] = volumes
    limits = spec.resources.get("limits") if isinstance(spec.resources, dict) else None
    limits = limits if isinstance(limits, dict) else {}
    try:
        if limits.get("cpu") not in (None, ""):
            options["nano_cpus"] = int(cpu_quantity(str(limits["cpu"])) * 1e9)
        if limits.get("memory") not in (None, ""):
            options["mem_limit"] = memory_quantity(str(limits["memory"]))
    except ValueError as exc:
        raise StartError(f"{spec.name}: spec.resources.limits: {exc}") from None
    gpus = limits.get("nvidia.com/gpu")
    if gpus not in (None, "", 0, "0"):
        import docker.types

        # nuctl's local platform runs such a function with --gpus all.
        options["device_requests"] = [docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])]
    return options


_QUANTITY_RE = re.compile(r"^([0-9.]+(?:[eE][-+]?[0-9]+)?)([a-zA-Z]*)$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


def cpu_quantity(text: str) -> float:
    """Kubernetes CPU quantity in cores: ``2``, ``0.5``, ``500m``."""
    match = _QUANTITY_RE.match(text.strip())
    if not match or match.group(2) not in ("", "m"):
        raise ValueError(f"cpu {text!r} is not a Kubernetes quantity such as 2, 0.5 or 500m")
    value = float(match.group(1)) / (1000 if match.group(2) == "m" else 1)
    if value <= 0:
        raise ValueError(f"cpu {text!r} must be more than 0")
    return value


def memory_quantity(text: str) -> int:
    """Kubernetes memory quantity in bytes: ``512Mi``, ``4Gi``, ``1G``, ``1000000``."""
    match = _QUANTITY_RE.match(text.strip())
    unit = match.group(2) if match else None
    if not match or unit not in {**_BINARY, **_DECIMAL}:
        raise ValueError(f"memory {text!r} is not a Kubernetes quantity such as 512Mi or 4Gi")
    value = int(float(match.group(1)) * {**_BINARY, **_DECIMAL}[unit or ""])
    if value <= 0:
        raise ValueError(f"memory {text!r} must be more than 0")
    return value


def _explain(exc: Exception) -> str:
    text = str(exc)
    if "capabilities: [[gpu]]" in text or "nvidia" in text.lower():
        return (
            "function.yaml asks for nvidia.com/gpu (spec.resources.limits), but this Docker "
            "Engine has no GPU runtime (the NVIDIA Container Toolkit). Drop the limit to run "
            f"on the CPU. Engine said: {text}"
        )
    return text


def _published_ports(container: Any) -> tuple[int, int]:
    """The 127.0.0.1 ports Docker picked for 8080 and 8082."""
    deadline = time.monotonic() + 10
    while True:
        container.reload()
        ports = container.attrs.get("NetworkSettings", {}).get("Ports") or {}
        http = ports.get(f"{image.HTTP_PORT}/tcp")
        health = ports.get(f"{image.HEALTH_PORT}/tcp")
        if http and health:
            return int(http[0]["HostPort"]), int(health[0]["HostPort"])
        if container.status in ("exited", "dead"):
            raise StartError(f"the container exited ({_exit_code(container)}) as it started")
        if time.monotonic() > deadline:
            raise StartError("Docker published no ports for the container")
        time.sleep(0.05)


def _exit_code(container: Any) -> str:
    state = container.attrs.get("State", {})
    code = state.get("ExitCode")
    return f"code {code}" + (", out of memory" if state.get("OOMKilled") else "")


def _ended(container: Any) -> Callable[[], str | None]:
    """Why the container is gone (None while it runs), checked at most every 0.25 s."""
    checked = [0.0]

    def ended() -> str | None:
        now = time.monotonic()
        if now - checked[0] < 0.25:
            return None
        checked[0] = now
        container.reload()
        if container.status in ("exited", "dead"):
            return f"the function exited ({_exit_code(container)}) (init_context failed?)"
        return None

    return ended


def _all_logs(container: Any) -> str:
    import docker.errors

    try:
        return str(container.logs(stdout=True, stderr=True).decode("utf-8", "replace")).rstrip()
    except (docker.errors.APIError, requests.RequestException):
        return ""


def _pump_logs(container: Any, logs: LogBuffer) -> None:
    """Copy the container's output into the log buffer, line by line, until it ends."""
    partial = b""
    with contextlib.suppress(Exception):
        for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()
            for line in lines:
                logs.append(line.decode("utf-8", "replace"))
    if partial:
        logs.append(partial.decode("utf-8", "replace"))
