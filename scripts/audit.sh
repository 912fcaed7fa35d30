#!/usr/bin/env bash
# Audit the locked dependencies (requirements-test.lock holds every package the runtime lock does,
# plus the test tools) for known vulnerabilities. Needs network to PyPI's advisory service (OSV).
set -euo pipefail
cd "$(dirname "$0")/.."
tools=.venv-audit
[ -x "$tools/bin/pip-audit" ] || { python3 -m venv "$tools" && "$tools/bin/pip" install -q --disable-pip-version-check pip-audit; }
exec "$tools/bin/pip-audit" --strict --disable-pip -r requirements.lock -r requirements-test.lock "$@"
