"""Disposable databases and subprocess billing runs for crash and concurrency trials.

A base database is built once (``migrate`` + ``crashrun setup``) and copied per trial:
SQLite by copying the file (on /dev/shm when present: a SIGKILL does not lose the page
cache, so fsync adds nothing to these trials), PostgreSQL by ``CREATE DATABASE … TEMPLATE``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import psycopg
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _env(url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        DUES_DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="dues.settings",
        PYTHONPATH=str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", ""),
        **extra,
    )
    return env


def run(url: str, *args: str, timeout: float = 300, **env: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "dues.ops.crashrun", *args],
        env=_env(url, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"crashrun {args} failed:\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def migrate(url: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dues.cli", "migrate", "--no-input", "-v0"],
        env=_env(url),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


def start(url: str, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dues.ops.crashrun", *args],
        env=_env(url, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_after(proc: subprocess.Popen, delay: float) -> bool:
    """SIGKILL ``proc`` ``delay`` seconds after it starts billing (its "ready" line);
    False if it had already finished."""
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            proc.communicate()
            return False
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return True


class SqliteDatabases:
    def __init__(self) -> None:
        parent = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.dir = Path(tempfile.mkdtemp(prefix="dues_crash_", dir=parent))
        self.base = self.dir / "base.sqlite3"

    def url(self, path: Path) -> str:
        return f"sqlite:///{path}"

    def build(self, subs: int) -> str:
        url = self.url(self.base)
        migrate(url)
        run(url, "setup", "--subs", str(subs))
        return url

    def copy(self, name: str) -> str:
        target = self.dir / f"{name}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{self.base}{suffix}")
            if src.exists():
                shutil.copyfile(src, f"{target}{suffix}")
        return self.url(target)

    def drop_all(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresDatabases:
    def __init__(self) -> None:
        s = connection.settings_dict
        self.host, self.port = s["HOST"] or "127.0.0.1", str(s["PORT"] or 5432)
        self.user, self.password = s["USER"] or "postgres", s["PASSWORD"] or ""
        self.prefix = f"dues_crash_{os.getpid()}"
        self.base = f"{self.prefix}_base"
        self.created: list[str] = []

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname="postgres",
            autocommit=True,
        )

    def url(self, name: str) -> str:
        auth = quote(self.user) + (f":{quote(self.password)}" if self.password else "")
        return f"postgres://{auth}@{self.host}:{self.port}/{name}"

    def _create(self, name: str, template: str | None = None) -> str:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(
                f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
            )
        self.created.append(name)
        return self.url(name)

    def build(self, subs: int) -> str:
        url = self._create(self.base)
        migrate(url)
        run(url, "setup", "--subs", str(subs))
        return url

    def copy(self, name: str) -> str:
        return self._create(f"{self.prefix}_{name}", template=self.base)

    def drop_all(self) -> None:
        with self._admin() as conn:
            for name in reversed(self.created):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def databases():
    return PostgresDatabases() if connection.vendor == "postgresql" else SqliteDatabases()
