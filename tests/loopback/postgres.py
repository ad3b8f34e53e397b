"""A real PostgreSQL (Debian's `postgresql` package) on 127.0.0.1, for the shared ledger.

initdb and postgres refuse to run as root: as root they run as the `postgres` user on a
folder it owns under /tmp (pytest's own tmp folders are 0700), as network.py does.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from .net import pick_port
from .network import _PG_PREFIX, _sweep_stale_pg_dirs, postgres_bin
from .processes import ServerError, ServerProcess, _register, _unregister


class PostgresServer:
    """`url(db)` is a libpq URL (user `pg`, no password); `new_database()` makes an empty
    database per test; `restart()` stops it (fast shutdown) and starts it again on the same
    port and data, as an operator's `systemctl restart postgresql` would."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = Path(logdir)
        pgbin = postgres_bin()
        if pgbin is None:
            raise ServerError("PostgreSQL is not installed: apt-get install postgresql")
        self.bin = pgbin
        self.as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        _sweep_stale_pg_dirs()
        self.work = Path(tempfile.mkdtemp(prefix=_PG_PREFIX, dir="/tmp" if self.as_pg else None))
        os.chmod(self.work, 0o755)
        if self.as_pg:
            shutil.chown(self.work, "postgres")
        self.data = self.work / "data"
        self.port = pick_port("THISDAY_LEDGER_PG_PORT")
        self.process: ServerProcess | None = None
        self._databases = 0
        _register(self)
        try:
            import subprocess

            subprocess.run(
                [*self.as_pg, str(pgbin / "initdb"), "-D", str(self.data), "-U", "pg",
                 "--auth=trust", "-E", "UTF8", "--no-sync"],
                check=True, capture_output=True, cwd=self.work,
            )  # fmt: skip
            self.start()
        except BaseException:
            self.stop()
            raise

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://pg@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.work),
            "fsync": "off",
            "full_page_writes": "off",
            "max_connections": "300",
        }
        argv = [*self.as_pg, str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        self.process = ServerProcess(
            "postgres", argv, self.logdir, cwd=self.work, stop_signal=signal.SIGINT
        ).start()
        self.process.wait_for(self._answers, 60)

    def _answers(self) -> bool:
        import psycopg

        with psycopg.connect(self.url(), connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True

    def restart(self, down_for: float = 0.0) -> None:
        assert self.process is not None
        self.process.stop(grace=15)
        time.sleep(down_for)
        self.start()

    def restart_stopped(self, down_for: float = 0.0) -> None:
        """Start again after `process.stop()` (from the thread that owns the server)."""
        time.sleep(down_for)
        self.start()

    def new_database(self) -> str:
        import psycopg

        self._databases += 1
        name = f"ledger_{os.getpid()}_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def log_tails(self) -> dict[str, str]:
        return {"postgres": self.process.tail()} if self.process else {}

    def stop(self, grace: float = 10.0) -> None:
        _unregister(self)
        if self.process is not None:
            self.process.stop(grace)
            self.process = None
        shutil.rmtree(self.work, ignore_errors=True)
