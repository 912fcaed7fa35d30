#!/usr/bin/env bash
# Audit the installed dependencies for known vulnerabilities (needs network to PyPI/OSV).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
.venv/bin/python -m pip install -q --disable-pip-version-check pip-audit
exec .venv/bin/pip-audit --skip-editable --strict "$@"
