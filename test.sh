#!/usr/bin/env bash
# Install everything the tests need (redis-server, .venv) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh test
exec .venv/bin/python -m pytest "$@"
