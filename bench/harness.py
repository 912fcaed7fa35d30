"""What every benchmark shares: processes on pinned cores, a load generator, and a results file.

Figures come from real processes on loopback: a real redis-server, the gateway under uvicorn with
uvloop and httptools, and wrk (Debian's package) posting signed webhooks from the other core.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from devtools.processes import Child, free_port, temp_log, wait_http

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SECRET = "bench-client-secret"
CORES = os.cpu_count() or 1


def pin(core: int) -> list[str]:
    """`taskset` prefix putting a process on one core (load and server apart, as in the issue)."""
    if shutil.which("taskset") and CORES > 1:
        return ["taskset", "-c", str(core % CORES)]
    return []


@contextlib.contextmanager
def process(args: list[str], env: Mapping[str, str] | None = None) -> Iterator[Child]:
    # Output goes to a file, not a pipe: nobody reads a pipe while the load runs, and a full one
    # would stall the process being measured.
    log = temp_log("bench-")
    with Child(args, env, output=log, stop_timeout_s=10) as proc:
        try:
            yield proc
        except BaseException:
            print(f"{args[-1]}: output kept in {log}", file=sys.stderr)
            raise
    log.unlink(missing_ok=True)


@contextlib.contextmanager
def uvicorn(
    factory: str, env: Mapping[str, str], workers: int = 1, core: int = 0, pids: list[int] | None = None
) -> Iterator[str]:
    """Serve an app factory on a free port; the server processes share the given core set.
    `pids` receives the server's process id (its children are its workers), for memory figures."""
    port = free_port()
    cores = ",".join(str(c % CORES) for c in range(core, core + workers)) if CORES > 1 else ""
    prefix = ["taskset", "-c", cores] if cores and shutil.which("taskset") else []
    args = [
        *prefix, sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning",
    ]
    with process(args, env) as proc:
        if pids is not None:
            pids.append(proc.pid)
        wait_http(f"http://127.0.0.1:{port}/healthz", child=proc)
        yield f"http://127.0.0.1:{port}"


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB (from /proc)."""
    total_kb = 0
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    for p in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total_kb += int(line.split()[1])
    return total_kb / 1024


@dataclass
class LoadResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    errors: int


WRK_SCRIPT = r"""
local bodies = dofile(os.getenv("BENCH_BODIES"))
local ts = os.getenv("BENCH_TIMESTAMP")
local run = os.getenv("BENCH_RUN")
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local threads = {}
local counter = 0
local tid = 0

function setup(thread)
  tid = tid + 1
  thread:set("tid", tid)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local item = bodies[(counter % #bodies) + 1]
  return wrk.format("POST", "/webhooks/sentry", {
    ["Content-Type"] = "application/json",
    ["Sentry-Hook-Resource"] = "error",
    ["Sentry-Hook-Timestamp"] = ts,
    ["Sentry-Hook-Signature"] = item[2],
    ["Request-ID"] = string.format("%s%04x%012x", run, tid, counter),
  }, item[1])
end

if delay_ms > 0 then
  -- Fixed-rate mode: each connection waits its share of the interval between requests, drawn
  -- from an exponential distribution (independent arrivals, as deliveries from Sentry are);
  -- a constant wait would march every connection in step and measure its own bursts.
  function delay() return math.floor(-math.log(1 - math.random()) * delay_ms) end
end

function response(status, headers, body)
  if status ~= 202 and status ~= 200 then
    bad = (bad or 0) + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("bad") or 0) end
  io.write(string.format(
    "BENCH {\"requests\": %d, \"duration_us\": %d, \"p50_us\": %d, \"p99_us\": %d, "
      .. "\"max_us\": %d, \"non2xx\": %d, \"errors\": %d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, bad + summary.errors.status, summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout))
end
"""


def webhook_bodies(count: int, size_bytes: int = 4096) -> list[tuple[bytes, str]]:
    """Signed `error.created`-shaped bodies of about `size_bytes`, each for another issue."""
    from gateway.signature import sign

    template = json.loads((ROOT / "standin/fixtures/sentry-webhooks/error.created.json").read_text())
    bodies = []
    for i in range(count):
        template["data"]["error"]["issue_id"] = str(9_000_000 + i)
        template["data"]["error"]["event_id"] = uuid.uuid4().hex
        raw = json.dumps(template, separators=(",", ":")).encode()
        template["data"]["error"]["extra"] = {"pad": "x" * max(0, size_bytes - len(raw) - 20)}
        raw = json.dumps(template, separators=(",", ":")).encode()
        bodies.append((raw, sign(raw, SECRET)))
    return bodies


def wrk(
    url: str, duration_s: float, connections: int, core: int, bodies: list[tuple[bytes, str]],
    rate_per_s: float | None = None,
) -> LoadResult:
    """Drive `url` with wrk; with `rate_per_s`, at about that fixed rate instead of flat out."""
    if not shutil.which("wrk"):
        raise RuntimeError("wrk not found: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        lua_bodies = Path(tmp) / "bodies.lua"
        lua_bodies.write_text(
            "return {\n"
            + ",\n".join(f"{{[==[{b.decode()}]==], \"{s}\"}}" for b, s in bodies)
            + "\n}\n"
        )
        script = Path(tmp) / "post.lua"
        script.write_text(WRK_SCRIPT)
        env = {
            **os.environ, "BENCH_BODIES": str(lua_bodies), "BENCH_TIMESTAMP": str(int(time.time())),
            "BENCH_RUN": uuid.uuid4().hex[:16],
            "BENCH_DELAY_MS": str(int(connections * 1000 / rate_per_s)) if rate_per_s else "0",
        }
        threads = max(1, min(2, connections))
        out = subprocess.run(
            [*pin(core), "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration_s}s",
             "--latency", "-s", str(script), url + "/webhooks/sentry"],
            env=env, capture_output=True, text=True, check=True,
        ).stdout
    match = re.search(r"^BENCH (\{.*\})$", out, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no figures:\n{out}")
    data = json.loads(match.group(1))
    return LoadResult(
        requests_per_s=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000, p99_ms=data["p99_us"] / 1000, max_ms=data["max_us"] / 1000,
        requests=data["requests"], errors=data["non2xx"] + data["errors"],
    )


def machine() -> dict[str, object]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cores": CORES, "cpu": cpu, "python": platform.python_version()}


def record(bench: str, figures: dict[str, object], smoke: bool) -> Path:
    """Append one JSON line per run to bench/results/<bench>.jsonl, for comparison over time."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{bench}{'-smoke' if smoke else ''}.jsonl"
    line = {"bench": bench, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": machine(), "smoke": smoke, **figures}
    with path.open("a") as out:
        out.write(json.dumps(line, default=lambda o: asdict(o)) + "\n")
    return path


def table(rows: list[tuple[str, ...]], align: str = "") -> str:
    """Columns of text, each right-aligned unless `align` says "l" for it (e.g. "rl": names, then text)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    sides = align.ljust(len(widths), "r")
    cells = (zip(row, widths, sides, strict=True) for row in rows)
    return "\n".join(
        "  ".join(c.ljust(w) if side == "l" else c.rjust(w) for c, w, side in line).rstrip() for line in cells
    )
