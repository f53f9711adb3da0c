#!/usr/bin/env bash
# make test-systemd: the systemd cgroup driver's integration tests
# (integration/tests/systemd.rs) in ONE VM boot with systemd as PID 1
# (hack/vm/run.sh --systemd), on pure cgroup v2; hack/vm/suite.sh inside.
# Expects husk to be built (the Makefile does it) and passes HUSK_BIN
# through. Logs: target/vm-test-systemd/ (kept).
#
#   HUSK_VM_TIMEOUT   seconds for the whole VM run (default 600)
set -euo pipefail
HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
cd "$HERE/../.."

command -v jq >/dev/null || hack/deps.sh
[ -x /lib/systemd/systemd ] || {
    echo "test-systemd: installing systemd (the package only: nothing is started on this host)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends systemd >/dev/null 2>&1 || {
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends systemd >/dev/null
    }
}
echo "test-systemd: building the test binary" >&2
bin=$(${CARGO:-cargo} test -p husk-integration --test systemd --no-run --message-format=json |
    jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable != null) | .executable')
[ -n "$bin" ] || { echo "test-systemd: cargo reported no test binary" >&2; exit 1; }

results=$PWD/target/vm-test-systemd
rm -rf "$results"
start=$SECONDS
rc=0
hack/vm/run.sh --systemd --timeout "${HUSK_VM_TIMEOUT:-600}" -- \
    "$HERE/suite.sh" "$results" --integration "$PWD/integration" "$bin" || rc=$?
echo "test-systemd: VM run took $((SECONDS - start))s, exit status $rc; logs in $results/" >&2
tail -n 1 "$results/summary.txt" 2>/dev/null | grep -E '^[0-9]+ passed, [0-9]+ failed$' || true
# A run that skipped everything (no systemd in the guest) is a failure.
if [ "$rc" = 0 ] && grep -q '^SKIP ' "$results"/*.log 2>/dev/null; then
    echo "test-systemd: tests were skipped: systemd did not run in the VM" >&2
    exit 1
fi
exit "$rc"
