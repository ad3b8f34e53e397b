"""The full @atproto/dev-env network (PLC, PDS, AppView) on PostgreSQL and Redis."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from .installs import DEFAULT_PDS_ACCOUNTS, SETUP_CMD, cache_dir
from .net import pick_port
from .pds import Account, PdsFaults, PdsServer, parse_accounts
from .processes import ServerError, ServerProcess, _register, _unregister, node_argv, node_env


def postgres_bin() -> Path | None:
    cands = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)] or [0],
    )
    for c in reversed(cands):
        if (c / "initdb").exists():
            return c
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


class AtprotoNetwork:
    """@atproto/dev-env TestNetwork on its own PostgreSQL + Redis. Attributes:

    pds_url (= url), appview_url, plc_url, accounts (list[Account]), account, faults
    (PdsFaults, PDS requests only), new_account(), processes (postgres, redis, network),
    ready_seconds (+ pg_/redis_/network_ready_seconds)
    """

    def __init__(self, logdir: Path, accounts: str | None = None, *, timeout: float = 180) -> None:
        self.logdir = Path(logdir)
        self.processes: list[ServerProcess] = []
        self._work: Path | None = None
        pgbin = postgres_bin()
        redis = shutil.which("redis-server")
        if pgbin is None or redis is None:
            raise ServerError(f"PostgreSQL / redis-server not installed: run `{SETUP_CMD} --full`")
        # initdb and postgres refuse to run as root: run them as the postgres user
        as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        _sweep_stale_pg_dirs()
        _register(self)
        t0 = time.monotonic()
        try:
            # The data dir must be reachable by the postgres user: not under pytest's 0700
            # tmp dirs. Removed at stop.
            self._work = Path(tempfile.mkdtemp(prefix=_PG_PREFIX, dir="/tmp" if as_pg else None))
            os.chmod(self._work, 0o755)
            if as_pg:
                shutil.chown(self._work, "postgres")
            data = self._work / "data"
            self.pg_port = pick_port("THISDAY_PG_PORT")
            initdb = [str(pgbin / "initdb"), "-D", str(data), "-U", "pg", "--auth=trust"]
            subprocess.run(
                [*as_pg, *initdb, "-E", "UTF8", "--no-sync"],
                check=True, capture_output=True, cwd=self._work,
            )  # fmt: skip
            settings = {
                "listen_addresses": "127.0.0.1",
                "unix_socket_directories": str(self._work),
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "max_connections": "200",
            }
            argv = [*as_pg, str(pgbin / "postgres"), "-D", str(data), "-p", str(self.pg_port)]
            for k, v in settings.items():
                argv += ["-c", f"{k}={v}"]
            # in the foreground, as our child: SIGINT = fast shutdown
            self.postgres = ServerProcess(
                "postgres", argv, self.logdir, cwd=self._work, stop_signal=signal.SIGINT
            ).start()
            self.processes.append(self.postgres)
            psql = [str(pgbin / "psql"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "pg"]
            self.postgres.wait_for(
                lambda: subprocess.run(
                    [*psql, "-d", "postgres", "-qAtc", "select 1"], capture_output=True, timeout=5
                ).returncode == 0,
                60,
            )  # fmt: skip
            subprocess.run(
                [*psql, "-d", "postgres", "-qc", "create database bsky"],
                check=True,
                capture_output=True,
            )
            self.pg_ready_seconds = time.monotonic() - t0

            self.redis_port = pick_port("THISDAY_REDIS_PORT")
            t1 = time.monotonic()
            redis_argv = [
                redis, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--dir", str(self._work),
            ]  # fmt: skip
            self.redis = ServerProcess("redis", redis_argv, self.logdir).start()
            self.processes.append(self.redis)
            self.redis.wait_for(lambda: _redis_ping(self.redis_port), 30)
            self.redis_ready_seconds = time.monotonic() - t1

            ports = {
                "PLC_PORT": pick_port("THISDAY_NET_PLC_PORT"),
                "PDS_PORT": pick_port("THISDAY_NET_PDS_PORT"),
                "APPVIEW_PORT": pick_port("THISDAY_NET_APPVIEW_PORT"),
                "OZONE_PORT": pick_port("THISDAY_NET_OZONE_PORT"),
            }
            spec = accounts or os.environ.get("THISDAY_PDS_ACCOUNTS") or DEFAULT_PDS_ACCOUNTS
            tmp = self.logdir / "network-tmp"
            tmp.mkdir(parents=True, exist_ok=True)
            env = node_env(
                {
                    **{k: str(v) for k, v in ports.items()},
                    "DB_POSTGRES_URL": f"postgresql://pg@127.0.0.1:{self.pg_port}/bsky",
                    "REDIS_HOST": f"127.0.0.1:{self.redis_port}",
                    "FAULTS_PORT": "0",
                    "FAULTS_TARGET_PORTS": str(ports["PDS_PORT"]),
                    "ACCOUNTS": ",".join(f"{h}:{p}" for h, p in parse_accounts(spec)),
                    "NODE_PROJECT_DIR": str(cache_dir() / "devenv"),
                    "LOG_ENABLED": os.environ.get("THISDAY_PDS_LOG", "false"),
                },
                tmp,
            )
            t2 = time.monotonic()
            self.network = ServerProcess(
                "network",
                node_argv("start-network.mjs"),
                self.logdir,
                env=env,
                cwd=cache_dir() / "devenv",
            ).start()
            self.processes.append(self.network)
            m = self.network.wait_for_line(r"^READY (.*)$", timeout)
            self.network_ready_seconds = time.monotonic() - t2
        except BaseException:
            self.stop()
            raise
        self.ready_seconds = time.monotonic() - t0
        self.ready: dict[str, Any] = json.loads(m.group(1))
        self.pds_port = ports["PDS_PORT"]
        self.pds_url = f"http://127.0.0.1:{self.pds_port}"
        self.url = self.pds_url
        self.appview_url = self.ready["appview"]
        self.plc_url = self.ready["plc"]
        self.accounts = [
            Account(a["handle"], a["password"], a["did"]) for a in self.ready["accounts"]
        ]
        self.faults = PdsFaults(self.ready["faults"])
        self.faults.reset_counts()

    @property
    def account(self) -> Account:
        return self.accounts[0]

    new_account = PdsServer.new_account

    def rss_mb(self) -> dict[str, float]:
        return {p.name: p.group_rss_mb() for p in self.processes}

    def log_tails(self) -> dict[str, str]:
        return {p.name: p.tail() for p in self.processes}

    def stop(self, grace: float = 10.0) -> None:
        _unregister(self)
        for p in reversed(self.processes):
            p.stop(grace)
        if self._work is not None:
            shutil.rmtree(self._work, ignore_errors=True)
            self._work = None


_PG_PREFIX = "thisday-pg-"


def _sweep_stale_pg_dirs(max_age: float = 600) -> None:
    """Remove data dirs left by runs that were killed (no live postmaster, > 10 min old)."""
    for d in Path("/tmp").glob(f"{_PG_PREFIX}*"):
        try:
            if time.time() - d.stat().st_mtime < max_age:
                continue
            pidfile = d / "data" / "postmaster.pid"
            if pidfile.exists():
                pid = int(pidfile.read_text().split()[0])
                if Path(f"/proc/{pid}").exists():
                    continue
            shutil.rmtree(d, ignore_errors=True)
        except (OSError, ValueError, IndexError):
            continue


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(b"PING\r\n")
        return s.recv(64).startswith(b"+PONG")


# ============================================================================ pytest plugin
