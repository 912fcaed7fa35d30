"""`sentry-responder dev` as a subprocess: Redis, stand-in, gateway, worker and the demo."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from shared.embedded_redis import free_port


@pytest.mark.timeout(120)
def test_dev_runs_the_demo_end_to_end() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "REDIS_URL", "RESPONDER_"))}
    env["COLUMNS"] = "120"
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "dev", "--exit-after-demo", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=110,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    landed = re.search(r"stand-in received: (\d+) comments on (\d+) issues, (\d+) status/assignment", output)
    assert landed is not None, output
    comments, issues, changes = map(int, landed.groups())
    # One comment per issue, though two deliveries name 1170820242 and Seer's root cause names 4001:
    # the three published examples and the six issues of the five stories.
    assert comments == issues == 9
    assert "first seen 3 min after `backend@2.4.1` was deployed to `production`" in output
    assert "98% on server\\_name `web-7` (1 of 12 hosts)" in output
    assert changes >= 4
    assert "dashboard at http://127.0.0.1:" in output
    assert "failed" not in output and "dead" not in output
