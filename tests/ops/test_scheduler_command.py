"""``dues scheduler`` runs the ticks in its own process and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def test_scheduler_command_ticks_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "DUES_VAR_DIR": str(tmp_path), "DUES_DATABASE_URL": ""}
    dues = str(Path(sys.executable).parent / "dues")
    subprocess.run([dues, "migrate", "--no-input", "-v", "0"], env=env, check=True)
    proc = subprocess.Popen(
        [dues, "scheduler"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert "scheduler running" in proc.stdout.readline()
        time.sleep(2)  # the first tick runs at start
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "failed" not in err  # every tick ran cleanly on the empty database
