#!/usr/bin/env bash
# Regenerate the lock files from pyproject.toml (pip-tools, hashes for every file), for Python 3.11
# as in the Dockerfile. Run after changing a dependency; commit both files.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=.venv-lock
[ -x "$tools/bin/pip-compile" ] || { python3 -m venv "$tools" && "$tools/bin/pip" install -q --disable-pip-version-check pip-tools; }
common=(--quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links "$@")
"$tools/bin/pip-compile" "${common[@]}" -o requirements.lock pyproject.toml
"$tools/bin/pip-compile" "${common[@]}" --extra test -o requirements-test.lock pyproject.toml
