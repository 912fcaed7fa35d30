#!/usr/bin/env bash
# Install what is missing (redis-server, .venv) and run the whole system with the demo:
# gateway + worker + Redis, and a Sentry stand-in when SENTRY_AUTH_TOKEN is not set.
#   ./run.sh                    # demo against the stand-in; Ctrl-C stops everything
#   ./run.sh --port 9000 --no-demo
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
exec .venv/bin/sentry-responder dev "$@"
