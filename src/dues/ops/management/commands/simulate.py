from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from dues.core.models import Organization
from dues.ops.recovery_sim import recovery_simulate
from dues.ops.scenario import ScenarioError, scenario_load
from dues.ops.simulate import simulate_run

CHILD_MARKER = "DUES_SIMULATE_CHILD"


class Command(BaseCommand):
    help = (
        "Run a simulated gym through the test clock in a fresh database (a temporary SQLite "
        "file unless --database-url is given) and print a monthly report and the ledger check. "
        "With --scenario, run a dunning what-if instead and end with one JSON line of figures."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--members", type=int, default=None, help="default 200")
        parser.add_argument("--months", type=int, default=None, help="default 6")
        parser.add_argument(
            "--scenario", type=Path, help="a dunning scenario (TOML; see scenarios/)"
        )
        parser.add_argument(
            "--policy",
            choices=["fixed", "smart"],
            help="with --scenario: retry on the scenario's fixed days, or smart retries",
        )
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--start", default="2026-01-01", help="first day (YYYY-MM-DD)")
        parser.add_argument(
            "--database-url",
            help="an empty database to build the gym in (default: a new temporary SQLite file)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            start = date.fromisoformat(options["start"])
        except ValueError as exc:
            raise CommandError(f"--start {options['start']!r} is not a date (YYYY-MM-DD)") from exc
        scenario = options["scenario"]
        if scenario is not None:
            if options["members"] is not None or options["months"] is not None:
                raise CommandError("with --scenario, members and months come from the file")
            if options["policy"] is None:
                raise CommandError("--scenario needs --policy fixed or --policy smart")
            try:
                scenario_load(scenario)  # fail here, before a database is made
            except ScenarioError as exc:
                raise CommandError(f"{scenario}: {exc}") from exc
            scenario = scenario.resolve()
        elif options["policy"] is not None:
            raise CommandError("--policy needs --scenario")
        options["members"] = 200 if options["members"] is None else options["members"]
        options["months"] = 6 if options["months"] is None else options["months"]
        if options["members"] < 1:
            raise CommandError("--members must be at least 1")
        if options["months"] < 1:
            raise CommandError("--months must be at least 1")
        if os.environ.get(CHILD_MARKER) == "1":
            self._run_here(start, options)
            return
        # Never touch the user's database: run again in a child on a fresh one.
        argv = [
            sys.executable,
            "-m",
            "dues.cli",
            "simulate",
            f"--members={options['members']}",
            f"--months={options['months']}",
            f"--seed={options['seed']}",
            f"--start={start.isoformat()}",
        ]
        if scenario is not None:
            argv = [*argv[:4], f"--scenario={scenario}", f"--policy={options['policy']}"]
            argv.append(f"--seed={options['seed']}")
        with tempfile.TemporaryDirectory(prefix="dues-sim-") as tmp:
            url = options["database_url"] or f"sqlite:///{tmp}/sim.sqlite3"
            env = os.environ | {
                CHILD_MARKER: "1",
                "DUES_DATABASE_URL": url,
                "DUES_VAR_DIR": tmp,
            }
            self.stdout.flush()
            rc = subprocess.call(argv, env=env)
        if rc:
            sys.exit(rc)

    def _run_here(self, start: date, options: dict[str, Any]) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        if Organization.objects.exists():
            raise CommandError("the simulation needs an empty database; this one has data")
        if options["scenario"] is not None:
            recovery_simulate(
                scenario_load(options["scenario"]),
                policy=options["policy"],
                seed=options["seed"],
                out=self.stdout.write,
            )
            return
        ok = simulate_run(
            members=options["members"],
            months=options["months"],
            seed=options["seed"],
            start=start,
            out=self.stdout.write,
        )
        if not ok:
            raise CommandError("ledger check failed")
