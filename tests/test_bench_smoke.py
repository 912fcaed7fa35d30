"""The benchmarks run (in their short smoke mode): CI proves the scripts work; figures come from
full runs, printed and appended to bench/results/."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench import harness

pytestmark = pytest.mark.chaos


@pytest.mark.timeout(240)
@pytest.mark.parametrize("bench", ["gateway", "worker", "e2e", "scale", "slow_clients"])  # storm: tests/test_storm.py runs it
def test_bench_smoke(bench: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{bench}", "--smoke"], cwd=harness.ROOT, capture_output=True, text=True,
        timeout=230,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "results appended to" in done.stdout
