#!/usr/bin/env bash
# The whole check, as `make test` and CI run it:
#   1. ruff, mypy, import-linter (builder.engine and builder.sdk never import Django);
#   2. pytest on the embedded default (SQLite, in-memory channel layer, inline tasks);
#   3. pytest in production mode (PostgreSQL, Redis, a real Celery worker) when both answer.
# Without PostgreSQL/Redis step 3 is skipped with a message, unless CI=true: then it fails.
# Every step runs even when an earlier one fails; the exit status says whether all passed.
# Extra arguments go to both pytest runs: scripts/test.sh -k health -x
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=.venv/bin/python
TEST_DATABASE_URL=${AGENTLOOM_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/agentloom}
TEST_REDIS_URL=${AGENTLOOM_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
# Whatever switches the mode or points at data is unset; each pass sets its own.
MODE_VARIABLES=(DATABASE_URL REDIS_URL CELERY_BROKER_URL CELERY_RESULT_BACKEND DJANGO_SECRET_KEY
  AGENTLOOM_SQLITE_PATH AGENTLOOM_VAR_DIR DJANGO_SETTINGS_MODULE)

ci=false
case "${CI:-}" in 1 | true | TRUE | True | yes) ci=true ;; esac

var_dir=$(mktemp -d "${TMPDIR:-/tmp}/agentloom-test.XXXXXX")
trap 'rm -rf "$var_dir"' EXIT
clean_env=(env)
for name in "${MODE_VARIABLES[@]}"; do clean_env+=(-u "$name"); done

failed=()
step() {
  local name=$1
  shift
  printf '\n=== %s\n' "$name"
  "$@" || failed+=("$name")
}
finish() {
  if [ ${#failed[@]} -gt 0 ]; then
    printf '\nFAILED:\n' >&2
    printf '  - %s\n' "${failed[@]}" >&2
    exit 1
  fi
  printf '\nall checks passed\n'
  exit 0
}

make --no-print-directory venv

step "lint (ruff, mypy, import-linter)" \
  "${clean_env[@]}" AGENTLOOM_VAR_DIR="$var_dir/lint" make --no-print-directory lint

step "pytest pass 1: embedded default (SQLite, in-memory channel layer, inline tasks)" \
  "${clean_env[@]}" AGENTLOOM_VAR_DIR="$var_dir/embedded" "$PYTHON" -m pytest "$@"

if ! unreachable=$("$PYTHON" -m tests.support.services "$TEST_DATABASE_URL" "$TEST_REDIS_URL"); then
  if [ "$ci" = true ]; then
    printf '\nproduction pass failed: CI=true needs PostgreSQL and Redis:\n%s\n' "$unreachable" >&2
    failed+=("pytest pass 2: production (services unreachable)")
  else
    printf '\nproduction pass skipped: PostgreSQL/Redis not reachable (%s)\n' "${unreachable//$'\n'/; }"
  fi
  finish
fi

# The production pass owns test_agentloom and Redis database 15 while it runs: two checkouts on
# one machine take turns rather than share a queue and a database.
lock_file="${TMPDIR:-/tmp}/agentloom-production-tests.lock"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$lock_file"
  flock -n 9 || { echo "waiting for another production pass on this machine ($lock_file)"; flock 9; }
fi
step "pytest pass 2: production (PostgreSQL, Redis, Celery worker)" \
  "${clean_env[@]}" \
  DATABASE_URL="$TEST_DATABASE_URL" \
  REDIS_URL="$TEST_REDIS_URL" \
  DJANGO_SECRET_KEY=test-only-not-secret \
  AGENTLOOM_VAR_DIR="$var_dir/production" \
  "$PYTHON" -m pytest "$@"
finish
