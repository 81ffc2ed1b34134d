"""Benchmark the door: ``python -m bench.access --members 100000``.

Builds the gym of ``bench.billing_run`` (a fresh SQLite file, or a ``dues_bench_access``
database on the PostgreSQL server ``DUES_DATABASE_URL`` names), gives every member an RFID
card, puts 2% of the memberships under a dunning access restriction, adds a door device,
then serves Dues over HTTP on loopback (gunicorn, a worker process per core) and runs a load tool
in a third process that sends ``POST /api/v1/access/scan`` at a fixed rate (open loop:
each scan is sent at its scheduled time whether or not earlier ones have returned), mixing
members who may enter, restricted ones and unknown cards. Prints one JSON line with the
server's decision time (the ``Server-Timing`` header: the decision and its log row) at
p50/p99 and the client-observed latency; the target is p99 decision time at most 10 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

TARGET_P99_MS = 10.0
DB_NAME = "dues_bench_access"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load(url: str, key: str, values: list[str], rate: float, workers: int) -> dict[str, Any]:
    """The load tool: send one scan per value at ``rate`` per second, open loop."""
    import httpx

    # One client for all the threads (httpx's is thread-safe), made before the clock
    # starts: a client per thread made on its first scan put that set-up (an SSL context
    # each, under the GIL with 63 others) into the first scans' times.
    client = httpx.Client(
        headers={"Authorization": f"Device {key}"},
        timeout=10.0,
        limits=httpx.Limits(max_connections=workers, max_keepalive_connections=workers),
    )
    results: list[tuple[float, float, int, bool]] = []
    lock = threading.Lock()

    start = time.perf_counter() + 0.2

    def one(i: int, value: str) -> None:
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        t0 = time.perf_counter()
        try:
            response = client.post(url, json={"value": value, "kind": "rfid"})
            status = response.status_code
            timing = response.headers.get("Server-Timing", "")
            server = float(timing.split("dur=")[1]) if "dur=" in timing else -1.0
            allowed = bool(status == 200 and response.json()["allowed"])
        except httpx.HTTPError:
            status, server, allowed = 0, -1.0, False
        with lock:
            results.append(((time.perf_counter() - t0) * 1000, server, status, allowed))

    began = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        for i, value in enumerate(values):
            pool.submit(one, i, value)
    elapsed = time.perf_counter() - began
    client.close()
    ok = [r for r in results if r[2] == 200 and r[1] >= 0]
    return {
        "scans": len(results),
        "errors": len(results) - len(ok),
        "allowed": sum(1 for r in ok if r[3]),
        "achieved_rate_per_s": round(len(results) / elapsed, 1),
        "client_ms": [r[0] for r in ok],
        "server_ms": [r[1] for r in ok],
    }


def prepare(tmp: str) -> str:
    import bench.billing_run as billing_bench

    billing_bench.BENCH_DB = DB_NAME  # its own database: benches may run side by side
    return billing_bench.database_prepare(tmp)


def build(members: int, day: date) -> tuple[str, int]:
    """The gym, a card per member, some restricted; returns a device key and location."""
    from bench.billing_run import setup
    from dues.access.models import Credential
    from dues.access.services import device_create
    from dues.billing.models import Restriction, Subscription
    from dues.core.clock import SystemClock
    from dues.core.models import Location
    from dues.members.models import Member

    setup(members, day)
    now = SystemClock().now()
    location = Location.objects.get()
    ids = list(Member.objects.order_by("pk").values_list("pk", flat=True))
    Credential.objects.bulk_create(
        [
            Credential(
                organization_id=location.organization_id,
                member_id=pk,
                kind="rfid",
                value=f"RF{pk:09d}",
                issued_at=now,
            )
            for pk in ids
        ],
        batch_size=5000,
    )
    subs = list(Subscription.objects.order_by("pk").values_list("pk", flat=True))
    Restriction.objects.bulk_create(
        [
            Restriction(
                organization_id=location.organization_id,
                subscription_id=pk,
                kind="access",
                source="dunning",
                reason="bench",
                starts_at=now - timedelta(days=1),
            )
            for pk in subs[::50]
        ],
        batch_size=5000,
    )
    _, key = device_create(location=location, name="Bench door", clock=SystemClock())
    return key, location.pk


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.access")
    parser.add_argument("--members", type=int, default=100000)
    parser.add_argument("--rate", type=float, default=200.0, help="scans per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="server processes")
    parser.add_argument("--load", nargs=4, metavar=("URL", "KEY", "VALUES_FILE", "RATE"))
    args = parser.parse_args(argv)
    if args.load:  # the load tool's process
        url, key, values_file, rate = args.load
        with open(values_file, encoding="utf-8") as f:
            values = json.load(f)
        print(json.dumps(load(url, key, values, float(rate), workers=64)))
        return 0

    with tempfile.TemporaryDirectory(prefix="dues-bench-access-") as tmp:
        vendor = prepare(tmp)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dues.settings")
        os.environ["DUES_VAR_DIR"] = tmp
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection, connections

        t = time.perf_counter()
        call_command("migrate", interactive=False, verbosity=0)
        day = datetime.now(UTC).astimezone(ZoneInfo("Europe/Stockholm")).date()
        key, _ = build(args.members, day)
        with connection.cursor() as cursor:
            for table in ("access_credential", "billing_subscription", "billing_restriction"):
                cursor.execute(f"ANALYZE {table}")
        from dues.members.models import Member

        ids = list(Member.objects.values_list("pk", flat=True))
        connections.close_all()
        print(f"setup: {args.members} members with cards in {time.perf_counter() - t:.1f}s")

        rng = random.Random(11)
        total = int(args.rate * args.seconds)
        values = [
            f"RF{rng.choice(ids):09d}" if rng.random() < 0.97 else f"NOPE{rng.randrange(10**6)}"
            for _ in range(total)
        ]
        values_file = os.path.join(tmp, "values.json")
        with open(values_file, "w", encoding="utf-8") as f:
            json.dump(values, f)

        port = free_port()
        env = {**os.environ, "DUES_ALLOWED_HOSTS": "127.0.0.1"}
        # A file, not a pipe: nobody reads the pipe while the load runs, and a server whose
        # warnings fill it blocks.
        server_log = open(os.path.join(tmp, "server.log"), "w+b")  # noqa: SIM115
        # Served as in production (README, Deployment): gunicorn, one single-threaded
        # worker process per core.
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            f"--bind=127.0.0.1:{port}",
            f"--workers={args.workers}",
            "dues.wsgi:application",
        ]
        server = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=server_log,
        )
        try:
            url = f"http://127.0.0.1:{port}/api/v1/access/scan"
            _wait_for(port, server, server_log.name)
            warm = json.dumps(values[:50])
            warm_file = os.path.join(tmp, "warm.json")
            with open(warm_file, "w", encoding="utf-8") as f:
                f.write(warm)
            loader = [sys.executable, "-m", "bench.access", "--load", url, key]
            subprocess.run([*loader, warm_file, "50"], check=True, capture_output=True)
            done = subprocess.run(
                [*loader, values_file, str(args.rate)], check=True, capture_output=True, text=True
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
            server_log.close()
        result = json.loads(done.stdout.strip().splitlines()[-1])
        server_ms, client_ms = result["server_ms"], result["client_ms"]
        p99 = percentile(server_ms, 0.99) if server_ms else float("inf")
        print(
            json.dumps(
                {
                    "bench": "access",
                    "db": vendor,
                    "members": args.members,
                    "rate_per_s": args.rate,
                    "achieved_rate_per_s": result["achieved_rate_per_s"],
                    "scans": result["scans"],
                    "errors": result["errors"],
                    "allowed": result["allowed"],
                    "decision_p50_ms": round(statistics.median(server_ms), 2)
                    if server_ms
                    else None,
                    "decision_p99_ms": round(p99, 2),
                    "decision_max_ms": round(max(server_ms), 2) if server_ms else None,
                    "http_p50_ms": round(statistics.median(client_ms), 2) if client_ms else None,
                    "http_p99_ms": round(percentile(client_ms, 0.99), 2) if client_ms else None,
                    "target_p99_ms": TARGET_P99_MS,
                    "met": p99 <= TARGET_P99_MS and result["errors"] == 0,
                }
            ),
            flush=True,
        )
        return 0 if result["errors"] == 0 else 1


def _wait_for(port: int, server: subprocess.Popen[bytes], log: str) -> None:
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline:
        if server.poll() is not None:
            with open(log, encoding="utf-8", errors="replace") as f:
                raise RuntimeError(f"the server exited: {f.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start listening within 30 s")


if __name__ == "__main__":
    sys.exit(main())
