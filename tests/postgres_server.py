"""A throwaway PostgreSQL server for the tests, started from the machine's PostgreSQL binaries.

The session fixture :func:`postgres_server` runs ``initdb`` into a fresh temporary folder, starts
the server with ``pg_ctl`` on a free loopback port (TCP on 127.0.0.1 only, trust authentication,
durability switched off since nothing here must survive a crash), and at the end of the session
stops it and removes the folder, also when a test or the start itself failed.

PostgreSQL refuses to run as root: under root (as in CI) ``initdb`` and ``pg_ctl`` run as the
``postgres`` system user, which owns the temporary folder. Binaries are looked up in
``$PG_BINDIR``, ``pg_config --bindir``, ``/usr/lib/postgresql/*/bin`` (newest first),
``/usr/local/pgsql/bin`` and ``PATH``; when none holds ``initdb``, ``pg_ctl`` and ``postgres``, the
fixture skips saying where it looked. With ``CHURNML_REQUIRE_POSTGRES=1`` in the environment (as
``.ci/run`` sets it, after installing the server) that skip is a failure instead, so CI cannot
pass while silently leaving the PostgreSQL tests out.

Enable it for every test with one line in ``tests/conftest.py``::

    from tests.postgres_server import postgres_server  # noqa: F401

then ask for a database by name; it is created on first use::

    def test_something(postgres_server):
        url = postgres_server.url("scores")  # postgresql+psycopg://churnml@127.0.0.1:PORT/scores

Several modules may import the fixture: they share one server for the whole session.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

SUPERUSER = "churnml"
RUN_AS = "postgres"  # the system user the server runs as when the tests run as root
_NEEDED = ("initdb", "pg_ctl", "postgres")
#: Set to 1 (CI does) and a server that cannot be started fails the tests rather than skipping them.
REQUIRE_ENV = "CHURNML_REQUIRE_POSTGRES"


def postgres_required() -> bool:
    """Whether ``CHURNML_REQUIRE_POSTGRES`` asks for a failure instead of a skip."""
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _skip_or_fail(reason: str) -> None:
    if postgres_required():
        value = os.environ[REQUIRE_ENV]
        pytest.fail(f"{REQUIRE_ENV}={value} (a failure, not a skip): {reason}", pytrace=False)
    pytest.skip(reason)


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", Path(path).parent.name)) or (0,)


def candidate_bindirs() -> list[str]:
    """Folders that may hold the server binaries, in the order they are tried."""
    dirs: list[str] = []
    if os.environ.get("PG_BINDIR"):
        dirs.append(os.environ["PG_BINDIR"])
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            dirs.append(out.stdout.strip())
    dirs += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    dirs.append("/usr/local/pgsql/bin")
    on_path = shutil.which("initdb")
    if on_path:
        dirs.append(str(Path(on_path).resolve().parent))
    return list(dict.fromkeys(d for d in dirs if d))


def find_bindir() -> Path | None:
    """The first candidate folder holding ``initdb``, ``pg_ctl`` and ``postgres``, if any."""
    for d in candidate_bindirs():
        if all(os.access(Path(d) / name, os.X_OK) for name in _NEEDED):
            return Path(d)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    """A running throwaway server: where it listens, who to connect as, and its databases."""

    bindir: Path
    root: Path  # the temporary folder: data/, socket/, server.log
    host: str = "127.0.0.1"
    port: int = 0
    user: str = SUPERUSER
    startup_seconds: float = 0.0  # initdb + start, measured
    _run_as: pwd.struct_passwd | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _databases: set[str] = field(default_factory=set, repr=False)

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def conninfo(self, dbname: str = "postgres") -> str:
        """A libpq connection string for psycopg (``psycopg.connect(server.conninfo("x"))``)."""
        return f"host={self.host} port={self.port} user={self.user} dbname={dbname}"

    def url(self, dbname: str, driver: str = "postgresql+psycopg") -> str:
        """A SQLAlchemy URL for database ``dbname``, creating the database if it does not exist."""
        self.create_database(dbname)
        return f"{driver}://{quote(self.user)}@{self.host}:{self.port}/{quote(dbname, safe='')}"

    def create_database(self, dbname: str) -> None:
        import psycopg
        from psycopg import sql

        with self._lock:
            if dbname in self._databases:
                return
            with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)
                ).fetchone()
                if not exists:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            self._databases.add(dbname)

    # -- lifecycle -------------------------------------------------------------------------------

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run a server binary as the server's user; its output goes to the log, never a pipe.

        A pipe would be inherited by the postmaster that ``pg_ctl start`` leaves running, and
        reading it to the end would then wait for the server to exit.
        """
        kwargs: dict = {}
        if self._run_as is not None:
            kwargs = {"user": self._run_as.pw_uid, "group": self._run_as.pw_gid, "extra_groups": []}
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        for var in ("PGDATA", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGOPTIONS"):
            env.pop(var, None)
        with open(self.log_file, "a") as log:
            return subprocess.run(
                [str(self.bindir / args[0]), *args[1:]],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                env=env,
                timeout=timeout,
                check=False,
                **kwargs,
            )

    def _log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def _check(self, proc: subprocess.CompletedProcess, what: str) -> None:
        if proc.returncode != 0:  # the folder and its log go at cleanup: quote the log here
            raise RuntimeError(
                f"PostgreSQL {what} failed (exit {proc.returncode}); the server log ends:\n"
                + self._log_tail()
            )

    def start(self) -> None:
        began = time.perf_counter()
        self.socket_dir.mkdir()
        self.log_file.touch()
        if self._run_as is not None:
            for path in (self.root, self.socket_dir, self.log_file):
                os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)
        self._check(
            self._run(
                "initdb",
                "-D",
                str(self.datadir),
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ),
            "initdb",
        )
        # A free port may be taken by someone else between choosing and binding it: then try again.
        for attempt in range(3):
            self.port = _free_port()
            options = " ".join(
                [
                    f"-p {self.port}",
                    f"-k {shlex.quote(str(self.socket_dir))}",
                    "-c listen_addresses=127.0.0.1",
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                ]
            )
            log_size = self.log_file.stat().st_size
            proc = self._run(
                "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.datadir),
                "-l", str(self.log_file), "-o", options,
            )  # fmt: skip
            if proc.returncode == 0:
                break
            with open(self.log_file, errors="replace") as log:
                log.seek(log_size)
                port_taken = "already in use" in log.read()
            if not port_taken or attempt == 2:
                self._check(proc, "start")
        self.startup_seconds = time.perf_counter() - began

    def stop(self) -> None:
        """Stop the server (fast, then by signal if it will not) and remove its folder."""
        try:
            if (self.datadir / "postmaster.pid").exists():
                proc = self._run(
                    "pg_ctl", "stop", "-w", "-t", "30", "-m", "fast", "-D", str(self.datadir)
                )
                if proc.returncode != 0:
                    self._kill_postmaster()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.datadir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown, children included
            for _ in range(50):
                os.kill(pid, 0)  # raises once the postmaster is gone
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)


def start_server() -> PostgresServer:
    """Start a throwaway server, or skip the calling test saying why it cannot.

    With ``CHURNML_REQUIRE_POSTGRES=1`` the test fails instead of skipping.
    """
    bindir = find_bindir()
    if bindir is None:
        looked = ", ".join(candidate_bindirs()) or "nothing"
        _skip_or_fail(
            "no PostgreSQL server binaries: initdb, pg_ctl and postgres were looked for in "
            "$PG_BINDIR, `pg_config --bindir`, /usr/lib/postgresql/*/bin, /usr/local/pgsql/bin "
            f"and PATH (checked: {looked}); install the server (apt-get install postgresql) "
            "or set PG_BINDIR"
        )
    run_as = None
    if os.geteuid() == 0:
        try:
            run_as = pwd.getpwnam(RUN_AS)
        except KeyError:
            _skip_or_fail(f"PostgreSQL will not run as root and there is no {RUN_AS!r} user")
    parent = Path(tempfile.gettempdir())
    if run_as is not None and not parent.stat().st_mode & 0o001:
        parent = Path("/tmp")  # the server's user must be able to reach its folder
    root = Path(tempfile.mkdtemp(prefix="churnml-pg-", dir=parent))
    server = PostgresServer(bindir=bindir, root=root, _run_as=run_as)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server


# One server per session however many modules import the fixture (each import registers its own
# fixture definition, so the server is shared by reference count), stopped at exit at the latest.
_shared: PostgresServer | None = None
_users = 0
_shared_lock = threading.Lock()


def _acquire() -> PostgresServer:
    global _shared, _users
    with _shared_lock:
        if _shared is None:
            _shared = start_server()
            atexit.register(_shared.stop)
        _users += 1
        return _shared


def _release() -> None:
    global _shared, _users
    with _shared_lock:
        _users -= 1
        if _users == 0 and _shared is not None:
            server, _shared = _shared, None
            atexit.unregister(server.stop)
            server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for the session: ``host``, ``port``, ``user``, ``url(db)``."""
    server = _acquire()
    try:
        yield server
    finally:
        _release()
