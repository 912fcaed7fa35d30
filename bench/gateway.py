"""bench/gateway: the gateway against its ceiling (a bare 202 endpoint), same server, same load.

    .venv/bin/python -m bench.gateway            # full run (~2 minutes)
    .venv/bin/python -m bench.gateway --smoke    # a few seconds, proves it works (CI)
"""

from __future__ import annotations

import argparse
from dataclasses import asdict

from bench import harness
from devtools.embedded_redis import EmbeddedRedis


def run(smoke: bool) -> dict[str, object]:
    duration_s = 2 if smoke else 15
    connections = 16 if smoke else 64
    bodies = harness.webhook_bodies(64 if smoke else 512)
    figures: dict[str, object] = {}
    rows = [("server", "procs", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "vs ceiling")]
    with EmbeddedRedis() as redis:
        env = {
            "SENTRY_CLIENT_SECRET": harness.SECRET, "REDIS_URL": redis.url,
            "RESPONDER_LOG_LEVEL": "WARNING", "RESPONDER_LOG_FORMAT": "json",
        }
        for procs in (1,) if smoke else (1, 2):
            load_core = procs % harness.CORES
            with harness.uvicorn("bench.ceiling:app", env, procs) as url:
                ceiling = harness.wrk(url, duration_s, connections, load_core, bodies)
            pids: list[int] = []
            with harness.uvicorn("gateway.app:app_from_env", env, procs, pids=pids) as url:
                gateway = harness.wrk(url, duration_s, connections, load_core, bodies)
                half = harness.wrk(
                    url, duration_s, connections, load_core, bodies,
                    rate_per_s=gateway.requests_per_s / 2,
                )
                rss = harness.rss_mb(pids[0])
            ratio = gateway.requests_per_s / ceiling.requests_per_s
            for name, result in (("ceiling", ceiling), ("gateway", gateway), ("gateway @ half", half)):
                rows.append((
                    name, str(procs), f"{result.requests_per_s:,.0f}", f"{result.p50_ms:.2f}",
                    f"{result.p99_ms:.2f}", f"{result.max_ms:.1f}", str(result.errors),
                    f"{ratio:.0%}" if name == "gateway" else "",
                ))
            figures[f"procs_{procs}"] = {
                "ceiling": asdict(ceiling), "gateway": asdict(gateway), "half_rate": asdict(half),
                "ratio": round(ratio, 3), "gateway_peak_rss_mb": round(rss, 1),
            }
            print(f"gateway peak RSS with {procs} process(es): {rss:.0f} MB")
    print(harness.table(rows))
    print(f"results appended to {harness.record('gateway', figures, smoke)}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, to prove it works")
    run(parser.parse_args().smoke)


if __name__ == "__main__":
    main()
