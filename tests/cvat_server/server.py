"""A real CVAT server, started from its source for a test session, as the shared CVAT README says.

:func:`start` takes CVAT's source (a tree or a ``.tar.gz``, see source.py) and brings up, each on
a free 127.0.0.1 port: PostgreSQL (``initdb`` into scratch, run as the ``postgres`` user when
this process is root, since initdb refuses root), the two Redis servers CVAT uses (in-memory,
and ``--appendonly yes`` standing in for kvrocks), the OPA endpoint evaluating CVAT's own Rego
policies (opa.py), then ``migrate``, ``migrateredis``, ``syncperiodicjobs`` and an admin user,
then uvicorn (``cvat.asgi``, working directory ``CVAT_BASE_DIR``) and one rq worker on the
``import``, ``annotation`` and ``chunks`` queues. CVAT's Python is its own venv (cvat_venv.py).
What an older release does otherwise (no ``CVAT_BASE_DIR``, a fixed OPA address, fewer setup
commands and queues) is read from its source (layout.py), so one start serves 2.22 and 2.73.
``migrate`` takes most of a start, so the first start keeps the freshly migrated database
(``pg_dump``, before any user exists) in the venv's directory, keyed by CVAT's migrations; later
starts restore it, and ``migrate`` then only confirms that nothing is left to apply.

CVAT is told (``CVAT_NUCLIO_*``, ``CVAT_NUCLIO_INVOKE_METHOD=dashboard``) that Nuclio's
dashboard is :attr:`CvatServer.forwarder`, which forwards to whatever a test sets with
:meth:`CvatServer.use_dashboard`: the server lives for the session, each test brings its own
dashboard.

Every service runs in a process group of its own, logs to a file in the scratch directory, and
is waited on with a deadline (no fixed sleeps); a service that ends or misses its deadline
stops the start with :class:`CvatStartError` carrying the tail of that service's log. The
scratch directory is a ScratchDir that records every group (``adopt``): ``stop`` (also run at
exit, on Ctrl-C and SIGTERM) ends them and removes it, and after ``kill -9`` the next start's
sweep does.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from harness.nuclio.runners import cleanup, wait
from harness.nuclio.runners.base import StartError
from harness.nuclio.runners.scratch import ScratchDir
from tests.cvat_server import cvat_venv, layout
from tests.cvat_server.client import CvatClient
from tests.cvat_server.forwarder import Forwarder
from tests.cvat_server.source import ENV, migrations_key, release, unpack

SCRATCH_PREFIX = "cvat-fn-cvat-server-"
ADMIN = "admin"
NAMESPACE = "nuclio"  # CVAT_NUCLIO_FUNCTION_NAMESPACE, CVAT's default
STOP_GRACE_S = 10.0
TAIL_LINES = 40
OPA_SCRIPT = Path(__file__).with_name("opa.py")


class CvatStartError(StartError):
    """A service of CVAT did not start; the message names it and quotes its log tail."""


@dataclass
class Service:
    """One process group of the server (or a setup command) and its log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = TAIL_LINES) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def ended(self) -> str | None:
        code = self.proc.poll()
        return None if code is None else f"{self.name} exited (code {code})"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)


@dataclass
class CvatServer:
    """A running CVAT: ``url``, the admin's credentials, the dashboard forwarder, the services.

    ``start_seconds`` is the whole start (venv build included when ``venv_built``);
    ``build_seconds`` the venv build alone (0 when it was cached); ``timings`` each step's.
    """

    url: str
    password: str
    forwarder: Forwarder
    source: Path
    venv: Path
    scratch: ScratchDir
    layout: layout.Layout
    origin: Path = Path()  # the source as given (a tree or an archive)
    release: str = ""  # X.Y.Z, from the source's cvat/__init__.py
    datumaro: str = ""  # the datumaro CVAT's venv holds: its fork, or the stand-in
    services: list[Service] = field(default_factory=list)
    venv_built: bool = False
    build_seconds: float = 0.0
    start_seconds: float = 0.0
    username: str = ADMIN
    namespace: str = NAMESPACE
    timings: dict[str, float] = field(default_factory=dict)  # seconds each start step took
    _token: int | None = None

    @property
    def base_dir(self) -> Path:
        """CVAT's data, keys and logs, and the server's working directory: CVAT_BASE_DIR in
        scratch, or the source tree (in scratch too) for a release that does not read it."""
        return self.scratch.path / "base" if self.layout.reads_base_dir else self.source

    def use_dashboard(self, url: str | None) -> None:
        """Point CVAT at the Nuclio dashboard at ``url`` (None: no dashboard, CVAT gets 503).

        CVAT keeps the forwarder's address; only where it forwards changes, at once, for the
        next request CVAT makes (``GET /api/lambda/functions`` and every call read it anew)."""
        self.forwarder.target = url.rstrip("/") if url else None

    def client(self) -> CvatClient:
        """A client logged in as the admin (basic auth)."""
        return CvatClient(self.url, (self.username, self.password))

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def process_ids(self) -> list[int]:
        """Every process of the server's groups (postgres backends, rq work-horses included)."""
        groups = {s.proc.pid for s in self.services}
        return [pid for pid, pgid in _process_groups() if pgid in groups]

    def rss_bytes(self) -> int:
        """Resident memory of the whole server: the sum of its processes' RSS."""
        page = os.sysconf("SC_PAGE_SIZE")
        total = 0
        for pid in self.process_ids():
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        return total

    def _end(self, services: list[Service]) -> None:
        for service in services:
            # postgres: SIGINT is its fast shutdown (SIGTERM waits for clients to leave)
            service.stop(signal.SIGINT if service.name == "postgres" else signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for service in services:
            with contextlib.suppress(subprocess.TimeoutExpired):
                service.proc.wait(max(0.0, deadline - time.monotonic()))
        for service in services:
            # the group goes whole: backends, work-horses, a leader that already left
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(service.proc.pid, signal.SIGKILL)
            service.proc.wait()

    def stop(self) -> None:
        """End every service (SIGTERM, then SIGKILL after a grace), the forwarder, the scratch
        directory. Safe to call twice."""
        if self._token is not None:
            cleanup.unregister(self._token)
            self._token = None
        # CVAT's own processes first: the rq worker unregisters itself from Redis as it goes
        databases = ("postgres", "redis-inmem", "redis-ondisk")
        self._end([s for s in self.services if s.name not in databases])
        self._end([s for s in self.services if s.name in databases])
        self.services.clear()
        self.forwarder.close()
        self.scratch.remove()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(
    source: str | Path, *, log: Callable[[str], object] = print, env: str = ENV
) -> CvatServer:
    """Start CVAT from ``source`` (``env``: the variable that named it, for errors); the caller
    must ``stop()`` it (it also stops at exit)."""
    started = time.monotonic()
    scratch = ScratchDir(SCRATCH_PREFIX)  # sweeps what a killed session left, groups included
    forwarder: Forwarder | None = None
    server: CvatServer | None = None
    try:
        root = unpack(source, scratch.path, env=env)
        found = layout.read(root)
        if not found.reads_base_dir and not root.is_relative_to(scratch.path):
            # CVAT writes data/, keys/, logs/ into its tree: a tree of the user's stays clean
            root = Path(shutil.copytree(root, scratch.path / "source", ignore=_COPY_IGNORE))
        venv, built = cvat_venv.ensure(root, source, log=log)
        build_seconds = time.monotonic() - started if built else 0.0
        forwarder = Forwarder()
        server = CvatServer(
            url="", password=secrets.token_urlsafe(16), forwarder=forwarder,
            source=root, venv=venv, scratch=scratch, layout=found, origin=Path(source),
            release=release(root),
            datumaro=cvat_venv.datumaro(venv), venv_built=built, build_seconds=build_seconds,
        )  # fmt: skip
        server._token = cleanup.register(server.stop)
        _Starter(server).run()
        server.start_seconds = time.monotonic() - started
        return server
    except BaseException:
        if server is not None:
            server.stop()
        else:
            if forwarder is not None:
                forwarder.close()
            scratch.remove()
        raise


_COPY_IGNORE = shutil.ignore_patterns(".git", "data", "logs", "keys", "__pycache__")


class _Starter:
    """The start sequence; each step adds its service to ``server.services`` first, so a
    failure anywhere stops all that was started."""

    def __init__(self, server: CvatServer) -> None:
        self.server = server
        self.scratch = server.scratch.path
        self.logs = self.scratch / "logs"
        self.logs.mkdir()
        self.python = cvat_venv.python(server.venv)
        self.postgres_user = _postgres_user()
        self.ports = {name: free_port() for name in ("postgres", "inmem", "ondisk", "opa", "http")}
        self.db_password = secrets.token_urlsafe(12)

    def run(self) -> None:
        self.server.base_dir.mkdir(exist_ok=True)
        self._mark = time.monotonic()
        pg = self._start_postgres()
        self._step("initdb")
        plain = self._base_env()
        inmem = self._spawn("redis-inmem", self._redis("inmem", appendonly=False), env=plain)
        ondisk = self._spawn("redis-ondisk", self._redis("ondisk", appendonly=True), env=plain)
        opa = self._spawn(
            "opa",
            [self.python, str(OPA_SCRIPT), "--port", str(self.ports["opa"]),
             "--source", str(self.server.source)],
            env={**self._base_env(), "RUST_BACKTRACE": "0"},
        )  # fmt: skip
        self._wait(pg, self._pg_ready, 60)
        self._step("postgres")
        self._command(
            "createdb",
            [*self._psql("postgres", user="postgres"),
             "-c", f"CREATE ROLE cvat LOGIN PASSWORD '{self.db_password}'",
             "-c", "CREATE DATABASE cvat OWNER cvat"],
            env=plain, timeout=60,
        )  # fmt: skip
        self._wait(inmem, _redis_probe(self.ports["inmem"], b"PING", _pong), 30)
        self._wait(ondisk, _redis_probe(self.ports["ondisk"], b"PING", _pong), 30)
        self._wait(opa, wait.http_ok(f"http://127.0.0.1:{self.ports['opa']}/health"), 30)
        self._step("redis, opa")
        env = self._cvat_env()
        manage = str(self.server.source / "manage.py")
        admin_env = {**env, "DJANGO_SUPERUSER_PASSWORD": self.server.password}
        setup = _setup(self.server.layout.commands)
        dump = self.server.venv / f"cvat-fn-db-{migrations_key(self.server.source)}.sql"
        if dump.is_file():
            # a database migrated by an earlier start: migrate then finds nothing to do
            self._command("restore", [*self._psql("cvat"), "-f", str(dump)], env=plain, timeout=300)
            self._command("setup", [self.python, manage, "shell", "-c", MIGRATE + setup],
                          env=admin_env, timeout=600)  # fmt: skip
        else:
            self._command("migrate", [self.python, manage, "shell", "-c", MIGRATE], env=env,
                          timeout=900)  # fmt: skip
            self._dump(dump)
            self._command("setup", [self.python, manage, "shell", "-c", setup], env=admin_env,
                          timeout=600)  # fmt: skip
        self._step("migrate, admin")
        http = self._spawn(
            "uvicorn",
            [self.python, "-m", "uvicorn", "cvat.asgi:application",
             "--host", "127.0.0.1", "--port", str(self.ports["http"])],
            env=env,
        )  # fmt: skip
        worker = self._spawn(
            "rqworker",
            [self.python, manage, "rqworker", *self.server.layout.queues,
             "--worker-class", "cvat.rqworker.DefaultWorker"],
            env=env,
        )  # fmt: skip
        self.server.url = f"http://127.0.0.1:{self.ports['http']}"
        self._wait(http, wait.http_ok(f"{self.server.url}/api/server/about"), 180)
        self._step("uvicorn")
        # rq registers a started worker in the set rq:workers (rq/worker_registration.py)
        self._wait(worker, _redis_probe(self.ports["inmem"], b"SCARD rq:workers", _positive), 180)
        self._step("rqworker")

    def _step(self, name: str) -> None:
        now = time.monotonic()
        self.server.timings[name] = round(now - self._mark, 1)
        self._mark = now

    # -- processes ---------------------------------------------------------------------------

    def _spawn(
        self, name: str, command: list[str], *, env: dict[str, str], postgres: bool = False
    ) -> Service:
        log = self.logs / f"{name}.log"
        extra: dict[str, object] = {}
        if postgres and self.postgres_user:
            extra = {"user": self.postgres_user, "group": pwd.getpwnam(self.postgres_user).pw_gid,
                     "extra_groups": []}  # fmt: skip
        with open(log, "ab") as out:
            try:
                proc = subprocess.Popen(
                    command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env=env, cwd=self.server.base_dir, start_new_session=True, **extra,  # type: ignore[call-overload]
                )  # fmt: skip
            except OSError as exc:
                raise CvatStartError(f"{name}: cannot run {command[0]}: {exc.strerror}") from None
        self.server.scratch.adopt(proc.pid)
        service = Service(name, proc, log)
        self.server.services.append(service)
        return service

    def _command(self, name: str, command: list[str], *, env: dict[str, str], timeout: float,
                 postgres: bool = False) -> None:  # fmt: skip
        """Run a setup command to its end; a failure or timeout quotes its log tail."""
        service = self._spawn(name, command, env=env, postgres=postgres)
        try:
            code = service.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(service.proc.pid, signal.SIGKILL)
            service.proc.wait()
            self.server.services.remove(service)
        if code != 0:
            what = f"exited (code {code})" if code is not None else f"did not end in {timeout:g}s"
            raise CvatStartError(f"CVAT {name} {what}; {service.log.name}:\n{service.tail()}")

    def _wait(self, service: Service, probe: Callable[[], bool], timeout: float) -> None:
        try:
            wait.wait_ready(
                probe, timeout=timeout, ended=service.ended, poll=0.2, what=service.name
            )
        except StartError as exc:
            first = str(exc).split(". Logs:", 1)[0]
            raise CvatStartError(f"CVAT {first}; {service.log.name}:\n{service.tail()}") from None

    # -- PostgreSQL --------------------------------------------------------------------------

    def _start_postgres(self) -> Service:
        pgroot = self.scratch / "postgres"
        pgroot.mkdir()
        if self.postgres_user:
            # postgres must reach its directory: the scratch dir is made 0700 by mkdtemp
            os.chmod(self.scratch, 0o711)
            info = pwd.getpwnam(self.postgres_user)
            os.chown(pgroot, info.pw_uid, info.pw_gid)
        data = pgroot / "data"
        self._command(
            "initdb",
            [self._pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            env=self._base_env(), timeout=120, postgres=True,
        )  # fmt: skip
        return self._spawn(
            "postgres",
            [self._pg_bin("postgres"), "-D", str(data), "-h", "127.0.0.1",
             "-p", str(self.ports["postgres"]), "-k", str(pgroot),
             # a throwaway database: durability only costs time here
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
            env=self._base_env(), postgres=True,
        )  # fmt: skip

    def _psql(self, database: str, user: str = "cvat") -> list[str]:
        return [self._pg_bin("psql"), "-h", "127.0.0.1", "-p", str(self.ports["postgres"]),
                "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-q"]  # fmt: skip

    def _dump(self, target: Path) -> None:
        """Keep the freshly migrated database beside the venv, for the next start (migrate
        takes most of a start). Written aside and renamed: a killed dump is never used."""
        partial = target.with_name(f".{target.name}.{os.getpid()}")
        self._command(
            "dump",
            [self._pg_bin("pg_dump"), "-h", "127.0.0.1", "-p", str(self.ports["postgres"]),
             "-U", "cvat", "-d", "cvat", "--no-owner", "--no-privileges", "-f", str(partial)],
            env=self._base_env(), timeout=300,
        )  # fmt: skip
        partial.replace(target)

    def _pg_ready(self) -> bool:
        command = [self._pg_bin("pg_isready"), "-q", "-h", "127.0.0.1",
                   "-p", str(self.ports["postgres"]), "-U", "postgres"]  # fmt: skip
        return subprocess.call(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0

    @staticmethod
    def _pg_bin(name: str) -> str:
        found = shutil.which(name)
        if found:
            return found
        versions = sorted(
            Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
            key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
        )
        if not versions:
            raise CvatStartError(f"PostgreSQL's {name} not found (Debian package postgresql)")
        return str(versions[-1])

    # -- Redis -------------------------------------------------------------------------------

    def _redis(self, name: str, *, appendonly: bool) -> list[str]:
        directory = self.scratch / f"redis-{name}"
        directory.mkdir()
        redis = shutil.which("redis-server")
        if not redis:
            raise CvatStartError("redis-server not found (Debian: apt-get install redis-server)")
        return [redis, "--bind", "127.0.0.1", "--port", str(self.ports[name]),
                "--dir", str(directory), "--save", "", "--daemonize", "no",
                "--appendonly", "yes" if appendonly else "no"]  # fmt: skip

    # -- environment -------------------------------------------------------------------------

    def _base_env(self) -> dict[str, str]:
        """A clean environment: nothing of the test's own (PYTHONPATH, VIRTUAL_ENV, DJANGO_*)."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
               "HOME": os.environ.get("HOME", "/")}  # fmt: skip
        if "TMPDIR" in os.environ:
            env["TMPDIR"] = os.environ["TMPDIR"]
        return env

    def _cvat_env(self) -> dict[str, str]:
        """CVAT's settings (cvat/settings/base.py, production.py), as the README lists them."""
        ports = self.ports
        forwarder = self.server.forwarder
        settings_dir = self.scratch / "settings"
        settings_dir.mkdir(exist_ok=True)
        return {
            **self._base_env(),
            "PYTHONPATH": os.pathsep.join([str(self.server.source), str(settings_dir)]),
            "DJANGO_SETTINGS_MODULE": self.server.layout.settings(settings_dir),
            "CVAT_BASE_DIR": str(self.server.base_dir),
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(32),
            "ALLOWED_HOSTS": "localhost,127.0.0.1",
            "SMOKESCREEN_ENABLED": "false",
            "DJANGO_LOG_LEVEL": "INFO",
            "CVAT_POSTGRES_HOST": "127.0.0.1",
            "CVAT_POSTGRES_PORT": str(ports["postgres"]),
            "CVAT_POSTGRES_USER": "cvat",
            "CVAT_POSTGRES_PASSWORD": self.db_password,
            "CVAT_POSTGRES_DBNAME": "cvat",
            "CVAT_REDIS_INMEM_HOST": "127.0.0.1",
            "CVAT_REDIS_INMEM_PORT": str(ports["inmem"]),
            "CVAT_REDIS_ONDISK_HOST": "127.0.0.1",
            "CVAT_REDIS_ONDISK_PORT": str(ports["ondisk"]),
            "CVAT_OPA_URL": f"http://127.0.0.1:{ports['opa']}",
            "CVAT_NUCLIO_SCHEME": "http",
            "CVAT_NUCLIO_HOST": "127.0.0.1",
            "CVAT_NUCLIO_PORT": str(forwarder.port),
            "CVAT_NUCLIO_FUNCTION_NAMESPACE": self.server.namespace,
            "CVAT_NUCLIO_INVOKE_METHOD": "dashboard",
        }


# The setup commands the README runs one by one (manage.py migrate, migrateredis,
# syncperiodicjobs, createsuperuser --noinput), in as few Django starts as the cache allows.
MIGRATE = """
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=1)
"""


def _setup(commands: tuple[str, ...]) -> str:
    """The release's setup commands (layout.SETUP_COMMANDS it has), then the admin user."""
    calls = "".join(f"call_command({name!r})\n" for name in commands)
    return (
        "\nfrom django.core.management import call_command\n"
        f"{calls}"
        'call_command("createsuperuser", interactive=False, username="admin",'
        ' email="admin@localhost")\n'
    )


def _postgres_user() -> str | None:
    """``postgres`` when this process is root (initdb and postgres refuse root), else None:
    an ordinary user runs them as itself."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise CvatStartError(
            "running as root, and no 'postgres' user to run PostgreSQL as "
            "(Debian's postgresql package creates it)"
        ) from None
    return "postgres"


def _redis_probe(port: int, command: bytes, ok: Callable[[bytes], bool]) -> Callable[[], bool]:
    """A probe: does Redis on ``port`` answer ``command`` (inline protocol) as ``ok`` wants?"""

    def probe() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(command + b"\r\n")
                return ok(sock.recv(64))
        except OSError:
            return False

    return probe


def _pong(reply: bytes) -> bool:
    return reply.startswith(b"+PONG")


def _positive(reply: bytes) -> bool:
    return reply.startswith(b":") and reply[1:].strip().isdigit() and int(reply[1:]) > 0


def _process_groups() -> list[tuple[int, int]]:
    """(pid, process group) of every process on this machine."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            found.append((int(entry.name), int(fields[2])))
    return found


def about(url: str) -> dict[str, object]:
    """GET /api/server/about (no credentials needed)."""
    answer = requests.get(f"{url}/api/server/about", timeout=10)
    answer.raise_for_status()
    return dict(answer.json())


def interpreter_note() -> str:
    return f"{sys.version.split()[0]} ({cvat_venv.base_interpreter()})"
