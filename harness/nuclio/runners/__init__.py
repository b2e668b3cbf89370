"""How a function is started and reached. Every runner returns the same RunningFunction."""

from __future__ import annotations

from collections.abc import Mapping

from harness.nuclio.runners.base import Runner, RunningFunction, StartError

RUNTIMES = ("process", "docker", "nuctl", "url")


class RunnerUnavailable(StartError):
    """The chosen runtime cannot run here or is not built; the message says which and why."""


def make_runner(
    runtime: str,
    *,
    url: str | None = None,
    base_image: str | None = None,
    port: int = 0,
    wrapper: str | None = None,
    pull: bool = True,
    dashboard: str | None = None,
    function_name: str | None = None,
    namespace: str = "nuclio",
    env: Mapping[str, str] | None = None,
) -> Runner:
    """The runner for ``--runtime``; a clear error for one that cannot be used.

    ``port`` is the host port for the HTTP trigger (process and docker; 0 takes a free one).
    ``wrapper`` replaces cvat-fn's worker script (process and docker); ``pull`` lets the
    docker runner pull a missing base image; ``dashboard``/``function_name``/``namespace``
    reach a deployed function through Nuclio's dashboard (url); ``env`` is added to the
    function's environment (process only: the dashboard's debugger).
    """
    if env and runtime != "process":
        raise RunnerUnavailable(f"--runtime {runtime}: only the process runtime takes extra env")
    if port and runtime not in ("process", "docker"):
        raise RunnerUnavailable(f"--port {port}: --runtime {runtime} does not start a function")
    if wrapper and runtime not in ("process", "docker"):
        raise RunnerUnavailable(f"--wrapper: --runtime {runtime} does not start a function")
    if wrapper:
        from harness.nuclio.runners.wrapper import check_wrapper

        check_wrapper(wrapper)
    if runtime == "process":
        from harness.nuclio.runners.process import ProcessRunner

        return ProcessRunner(port=port, wrapper=wrapper, env=env)
    if runtime == "url":
        from harness.nuclio.runners.url import UrlRunner

        if dashboard or function_name:
            if not (dashboard and function_name):
                raise RunnerUnavailable(
                    "--runtime url through Nuclio's dashboard needs both --nuclio-dashboard URL"
                    " and --function-name NAME"
                )
            return UrlRunner(dashboard=dashboard, function_name=function_name, namespace=namespace)
        if not url:
            raise RunnerUnavailable(
                "--runtime url needs --function-url URL, or --nuclio-dashboard URL"
                " --function-name NAME"
            )
        return UrlRunner(url)
    if runtime == "docker":
        from harness.nuclio.runners.docker import DockerRunner, docker_available

        reason = docker_available()
        if reason:
            raise RunnerUnavailable(f"--runtime docker: {reason}")
        return DockerRunner(base_image=base_image, port=port, wrapper=wrapper, pull=pull)
    if runtime == "nuctl":
        raise RunnerUnavailable(
            "--runtime nuctl is not built yet: deploy with nuctl yourself and use"
            " --runtime url --function-url URL (or --nuclio-dashboard URL --function-name NAME)"
        )
    raise RunnerUnavailable(f"unknown runtime {runtime!r} (choose from {', '.join(RUNTIMES)})")


__all__ = [
    "RUNTIMES",
    "Runner",
    "RunnerUnavailable",
    "RunningFunction",
    "StartError",
    "make_runner",
]
