# Shared by the shell tests (sourced, not run): the skip rule, the result
# lines and the bounded wait (tests/deb, tests/prometheus/promtool_test and
# tests/monitoring/testbed.sh source it). The older scripts (tests/systemd/container_test,
# tests/prometheus/scrape_test and fleet_test) still carry their own copies.
#
#   TEST_WHAT="the package test"; source tests/lib/common.bash

t0=$(date +%s)
failures=0

# Exit 77 (ctest: skipped), or fail under CI=true, where every test must run.
cannot_run() {
  if [ "${CI:-}" = true ]; then echo "FAIL: CI=true but ${TEST_WHAT:-the test} cannot run: $*"; exit 1; fi
  echo "SKIP: $*"; exit 77
}
log() { printf '[%3ds] %s\n' "$(($(date +%s) - t0))" "$*"; }
fail() { log "FAIL: $*"; failures=$((failures + 1)); }
pass() { log "ok: $*"; }
# Polls a shell condition every 0.2 s until it holds or SECONDS pass.
wait_for() { # SECONDS CONDITION...
  local seconds=$1; shift
  local until=$(($(date +%s%N) + seconds * 1000000000))
  while [ "$(date +%s%N)" -lt "$until" ]; do
    if eval "$@"; then return 0; fi
    sleep 0.2
  done
  return 1
}
