#!/usr/bin/env bash
# Prepare a machine for the responder: redis-server from the system's packages and a virtualenv
# in .venv with the project installed. Safe to run again: it only does what is missing.
#   scripts/bootstrap.sh [extra]   e.g. "test" installs the test tools too
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-}"

# Debian packages that are missing: redis-server always; the browser for the dashboard's test.
packages=()
if ! command -v redis-server >/dev/null 2>&1 && [ -z "${REDIS_SERVER_BIN:-}" ] && [ -z "${REDIS_URL:-}" ]; then
  packages+=(redis-server)
fi
if [ "$extra" = test ]; then
  command -v chromium >/dev/null 2>&1 || packages+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || packages+=(chromium-driver)
  command -v wrk >/dev/null 2>&1 || packages+=(wrk)  # the gateway benchmark's load generator
fi
if [ ${#packages[@]} -gt 0 ]; then
  echo "bootstrap: installing ${packages[*]} from the system's packages" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    echo "bootstrap: ${packages[*]} missing and this user cannot install them; run: apt-get install ${packages[*]}" >&2
    exit 1
  fi
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
fi

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "bootstrap: Python 3.11 or newer is needed ($python is $("$python" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
# Dependencies come from a lock file with hashes (requirements.lock; requirements-test.lock adds the
# test tools): exact versions, each file checked against its hash. The project itself goes on top
# without resolving anything. Regenerate the locks with scripts/lock.sh after changing pyproject.toml.
lock="requirements${extra:+-$extra}.lock"
stamp=".venv/.installed${extra:+-$extra}"
# A pip configuration may list local index directories that hold only some packages; pip then
# warns "Location '…' is ignored: it is neither a file nor a directory" once per package and finds
# it elsewhere (the lock's hashes check what it finds). Only those lines are dropped: every other
# line pip writes passes through, in order, before the function returns, and with pipefail its
# exit status is pip's.
pip_install() {
  { .venv/bin/python -m pip install -q --disable-pip-version-check "$@" 2>&1 1>&3 3>&- \
      | { grep -v -E "^WARNING: Location '[^']*' is ignored: it is neither a file nor a directory\.$" || true; } >&2
  } 3>&1
}
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
  pip_install --upgrade pip >/dev/null
  pip_install --require-hashes -r "$lock"
  pip_install --no-deps -e .
  touch "$stamp"
fi
