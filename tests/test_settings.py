"""Settings read from the environment: defaults that follow each other, and strict refusals.

Each case imports the settings module in a fresh interpreter, as start-up does.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def gateway_settings(tmp_path, **env) -> subprocess.CompletedProcess:
    code = (
        "import studio.settings as s; "
        "print(s.GATEWAY_CALL_DEADLINE, s.GATEWAY_MODELS_TIMEOUT, s.GATEWAY_MAX_RESPONSE_BYTES)"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean | {"STUDIO_DATA_DIR": str(tmp_path)} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_gateway_limits_default_to_the_documented_values(tmp_path):
    result = gateway_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["630.0", "3.0", str(48 * 1024 * 1024)]


def test_the_call_deadline_follows_a_raised_read_timeout(tmp_path):
    result = gateway_settings(tmp_path, GATEWAY_READ_TIMEOUT="900")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "930.0"


def test_a_call_deadline_below_the_read_timeout_stops_start_up(tmp_path):
    result = gateway_settings(tmp_path, GATEWAY_CALL_DEADLINE="300")
    assert result.returncode != 0
    assert "GATEWAY_CALL_DEADLINE must be at least 600.0; got 300.0." in result.stderr
