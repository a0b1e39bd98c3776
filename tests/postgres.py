"""A throwaway PostgreSQL cluster for the tests: initdb + pg_ctl in a temporary directory.

The state stores run on sqlite by default and must also be tested against a real PostgreSQL server. This
module starts one (per pytest process: each xdist worker starts its own) on a free localhost TCP port,
with its unix socket in its own temporary directory, trust authentication and no fsync (the data is
thrown away). PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` system
user made by Debian's package (or ``nobody``) through ``runuser``.

Used through the fixtures ``postgres_server`` (session) and ``postgres_url`` (one fresh database per test)
of ``tests/conftest.py``.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
from psycopg import sql

SUPERUSER = "postgres"
"""The superuser of the throwaway cluster (initdb -U), whatever OS user runs it."""
REQUIRE_ENV = "REKOMENDASI_TEST_REQUIRE_POSTGRES"
"""Set to 1 to make the PostgreSQL fixtures fail, not skip, when no server can be started (CI)."""
SKIP_MARKER = "PostgreSQL UNAVAILABLE"
"""Starts every skip reason of the fixtures, so the terminal summary can find and repeat them."""
_START_ATTEMPTS = 3
_PREFIX = "rekomendasi-pg-"
_OWNER_FILE = "owner.pid"
_HINT = (
    "install Debian's postgresql (`make setup` does it when root: scripts/ensure-postgresql.sh) "
    "or put initdb and pg_ctl on PATH"
)


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be started here; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class PostgresServer:
    """A running throwaway cluster, reachable over TCP on 127.0.0.1 with trust authentication."""

    bindir: Path
    base: Path
    port: int
    run_as: str | None
    """The OS user the server runs as when we are root (``runuser -u``), else None (ourselves)."""
    started_in: float
    """Seconds initdb + pg_ctl start took."""
    user: str = SUPERUSER
    host: str = "127.0.0.1"

    @property
    def datadir(self) -> Path:
        return self.base / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base

    @property
    def logfile(self) -> Path:
        return self.base / "server.log"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` (psycopg 3 driver)."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres", *, autocommit: bool = True) -> psycopg.Connection:
        """A plain psycopg connection, for the fixtures' own administration."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            dbname=database,
            autocommit=autocommit,
            connect_timeout=10,
        )

    def create_database(self) -> str:
        """Create an empty database ``t_<random>`` and return its name."""
        name = f"t_{secrets.token_hex(6)}"
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, closing connections a test left open (an engine not disposed)."""
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        """Stop the server at once (its data is thrown away) and delete its directory."""
        try:
            _run(self, ["pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop"], check=False)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl: ``pg_config --bindir``, Debian's, then PATH; or None."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    debian = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted((Path(d) for d in debian), key=_version_key, reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for bindir in candidates:
        if all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl")):
            return bindir
    return None


def start_server() -> PostgresServer:
    """Start a throwaway cluster; raise :class:`PostgresUnavailable` saying why when it cannot."""
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable(
            f"initdb/pg_ctl not found (pg_config, /usr/lib/postgresql/*/bin, PATH): {_HINT}"
        )
    run_as = _unprivileged_user() if os.geteuid() == 0 else None
    if os.geteuid() == 0 and run_as is None:
        raise PostgresUnavailable("running as root and neither the `postgres` nor the `nobody` user exists")
    if run_as is not None and shutil.which("runuser") is None:
        raise PostgresUnavailable(f"running as root and `runuser` is missing to run PostgreSQL as {run_as}")
    _stop_orphans(bindir, run_as)
    begin = time.perf_counter()
    # Not under pytest's basetemp: it is private to root (0700), the server's user could not enter it.
    base = Path(tempfile.mkdtemp(prefix=_PREFIX))
    (base / _OWNER_FILE).write_text(str(os.getpid()))
    try:
        if run_as is not None:
            entry = pwd.getpwnam(run_as)
            os.chown(base, entry.pw_uid, entry.pw_gid)
        probe = PostgresServer(bindir=bindir, base=base, port=0, run_as=run_as, started_in=0.0)
        _initdb(probe)
        last_error: str | None = None
        # A free port can be taken by another process (another xdist worker) before the server binds it.
        for _ in range(_START_ATTEMPTS):
            server = replace(probe, port=_free_port())
            last_error = _pg_ctl_start(server)
            if last_error is None:
                return replace(server, started_in=time.perf_counter() - begin)
        raise PostgresUnavailable(f"pg_ctl start failed {_START_ATTEMPTS} times; last: {last_error}")
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise


def _stop_orphans(bindir: Path, run_as: str | None) -> None:
    """Stop and delete the clusters of earlier test processes that died without stopping them (kill -9
    of pytest): their directory names a pid that no longer runs."""
    for base in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*"):
        try:
            owner = int((base / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # being created right now, or not ours
        try:
            os.kill(owner, 0)
            continue
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        orphan = PostgresServer(bindir=bindir, base=base, port=0, run_as=run_as, started_in=0.0)
        if (orphan.datadir / "postmaster.pid").exists():
            orphan.stop()
        else:
            shutil.rmtree(base, ignore_errors=True)


def _initdb(server: PostgresServer) -> None:
    cmd = [
        "initdb",
        "-D",
        str(server.datadir),
        "-U",
        server.user,
        "--auth=trust",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
    ]
    out = _run(server, cmd, check=False)
    if out.returncode != 0:
        raise PostgresUnavailable(f"initdb failed (exit {out.returncode}): {_tail(out.stdout + out.stderr)}")


def _pg_ctl_start(server: PostgresServer) -> str | None:
    """Start the server on ``server.port``; None when it runs, else the reason it did not start."""
    options = " ".join(
        [
            f"-p {server.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={server.socket_dir}",
            # Thrown away after the session: durability buys nothing, speed does.
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
            "-c shared_buffers=16MB",
            "-c max_connections=60",
        ]
    )
    cmd = ["pg_ctl", "-D", str(server.datadir), "-l", str(server.logfile), "-o", options, "-w", "-t", "60"]
    out = _run(server, [*cmd, "start"], check=False)
    if out.returncode == 0:
        return None
    log = server.logfile.read_text(errors="replace") if server.logfile.exists() else ""
    return f"exit {out.returncode}: {_tail(out.stdout + out.stderr + log)}"


def _run(server: PostgresServer, cmd: list[str], *, check: bool) -> subprocess.CompletedProcess[str]:
    argv = [str(server.bindir / cmd[0]), *cmd[1:]]
    if server.run_as is not None:
        argv = ["runuser", "-u", server.run_as, "--", *argv]
    # Our PG* variables (a developer's PGHOST, PGPORT ...) must not steer the throwaway cluster.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    # The server's user may not be allowed into our working directory.
    return subprocess.run(
        argv, cwd=server.base, env=env, capture_output=True, text=True, check=check, timeout=120
    )


def _unprivileged_user() -> str | None:
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _version_key(bindir: Path) -> tuple[int, ...]:
    version = bindir.parent.name
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _tail(text: str, lines: int = 8) -> str:
    return " | ".join(line for line in text.strip().splitlines()[-lines:] if line.strip())
