# The test bed shared by nagios_test and icinga2_test; sourced, not run.
#
# The caller sets `build` (the build directory), `label` (a short name for
# its namespaces and temporary directory) and `needs` (the commands it runs
# besides nft), then sources this file, which:
#   - skips (77) without root, one of those commands, pd-listen or portdrift,
#     or fails when CI=true;
#   - makes a scanner namespace with no default route (the monitoring server
#     runs there, so its checks do) and a target namespace behind a veth,
#     holding ns1 (198.18.N.11, ITMS notification server) and ps1 (.12, package
#     server); names carry the PID and a random number, so runs cannot collide;
#   - writes topology.yaml (vantage `agents`), reads the vantage's plan
#     ($plan_checks checks) from a first `--check --format json`, and lists
#     the ports it expects open in $work/endpoints, for the caller to start
#     pd-listen on (directly, so that $! is the listener's PID);
#   - links $work/plugins/check_portdrift to the built binary: the shipped
#     command definitions run PLUGIN_DIR/check_portdrift;
#   - on any exit stops every PID in `pids` (TERM, then KILL after 10 s),
#     waits for their children, deletes both namespaces and the temporary
#     directory.
# Drift: `drift_inject` makes the target reset the connections to one port
# the plan expects open ($drift_host $drift_address tcp/$drift_port);
# `drift_fix` removes that rule.

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The skip rule, log/fail/pass, wait_for, t0 and failures.
TEST_WHAT="the $label test"
# shellcheck source=../lib/common.bash
. "$source_dir/tests/lib/common.bash"
[ "$(id -u)" = 0 ] || cannot_run "needs root (network namespaces)"
for command in nft "${needs[@]}"; do
  command -v "$command" >/dev/null || cannot_run "$command is missing (run .ci/deps)"
done
listen_bin=$build/tests/netns/pd-listen
[ -x "$build/portdrift" ] && [ -x "$listen_bin" ] || cannot_run "portdrift and pd-listen are not built in $build"

net=$((RANDOM % 200 + 20))
id=$$-$RANDOM
scan=pd$label-s-$id
tgt=pd$label-t-$id
work=$(mktemp -d "/tmp/pd-$label.XXXXXX")
pids=()
cleanup() {
  set +e
  local pid child children
  for pid in "${pids[@]}"; do
    # The servers' workers (nagios4's, icinga2's) go down after their parent; wait for them too.
    children=$(ps -o pid= --ppid "$pid" 2>/dev/null)
    kill -TERM "$pid" 2>/dev/null
    timeout 10 tail --pid="$pid" -f /dev/null || kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    for child in $children; do
      timeout 10 tail --pid="$child" -f /dev/null || kill -KILL "$child" 2>/dev/null
    done
  done
  ip netns del "$scan" 2>/dev/null
  ip netns del "$tgt" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Background servers are started with `ip netns exec` itself, never through
# these functions (a function would run in a subshell whose PID is not the server's).
in_scan() { ip netns exec "$scan" "$@"; }
in_tgt() { ip netns exec "$tgt" "$@"; }

ip netns add "$scan" && ip netns add "$tgt" || cannot_run "cannot create network namespaces"
ip link add "pdm$$a" netns "$scan" type veth peer name "pdm$$b" netns "$tgt"
in_scan ip link set lo up
in_tgt ip link set lo up
in_scan ip addr add "198.19.$net.1/24" dev "pdm$$a"
in_tgt ip addr add "198.19.$net.2/24" dev "pdm$$b"
in_scan ip link set "pdm$$a" up
in_tgt ip link set "pdm$$b" up
in_tgt ip addr add "198.18.$net.11/32" dev lo
in_tgt ip addr add "198.18.$net.12/32" dev lo
in_scan ip route add "198.18.$net.0/24" via "198.19.$net.2"
if in_scan ip route show | grep -q '^default'; then fail "the scanner namespace has a default route"; exit 1; fi

cat > "$work/topology.yaml" <<TOPOLOGY
products: [itms-8]
vantages:
  agents: {roles: [agent]}
defaults: {timeout_ms: 300, retries: 0, severity: critical}
hosts:
  - {name: ns1, address: 198.18.$net.11, roles: [notification-server]}
  - {name: ps1, address: 198.18.$net.12, roles: [package-server]}
TOPOLOGY
mkdir "$work/plugins"
ln -s "$build/portdrift" "$work/plugins/check_portdrift"

# The plan, from a pass before anything listens: every port expected open, and
# the drift's port (the first TCP one of ns1).
in_scan "$build/portdrift" --check --format json -c "$work/topology.yaml" --vantage agents \
  --catalog-dir "$source_dir/config/catalog" --timeout 100 --retries 0 > "$work/plan.json" 2>"$work/plan.err"
read -r drift_host drift_address drift_port plan_checks < <(python3 - "$work/plan.json" "$work/endpoints" <<'PLAN'
import json, sys
checks = json.load(open(sys.argv[1]))["checks"]
opens = [c for c in checks if c["protocol"] in ("tcp", "udp") and c["expected"] == "open"]
with open(sys.argv[2], "w") as out:
    out.writelines(sorted({f'{c["protocol"]}:{c["address"]}:{c["port"]}\n' for c in opens}))
first = next(c for c in opens if c["protocol"] == "tcp" and c["host"] == "ns1")
print(first["host"], first["address"], first["port"], len(checks))
PLAN
)
[ -n "${drift_port:-}" ] && pass "vantage agents plans $(wc -l < "$work/endpoints") open ports; the drift will be tcp/$drift_port on $drift_host" ||
  { fail "no plan: $(cat "$work/plan.err")"; exit 1; }

drift_inject() {
  in_tgt nft -f - <<NFT
table inet pdmon_drift {
  chain input {
    type filter hook input priority 0;
    ip daddr $drift_address tcp dport $drift_port reject with tcp reset
  }
}
NFT
}
drift_fix() { in_tgt nft delete table inet pdmon_drift; }
