#!/usr/bin/env bash
# make test-v2: builds the husk-cgroups and husk-integration test binaries and
# runs them all in ONE pure cgroup v2 VM boot (hack/vm/suite.sh inside).
# Expects husk and runtimetest to be built (the Makefile does it) and passes
# HUSK_BIN / RUNTIMETEST_BIN through. Logs: target/vm-test-v2/ (kept).
#
#   HUSK_VM_TIMEOUT   seconds for the whole VM run (default 2400)
set -euo pipefail
HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
cd "$HERE/../.."

# "--KIND DIR BIN..." for a package's test executables, as cargo reports them
# (DIR: the package's directory, where cargo test would run them).
test_bins() {
    ${CARGO:-cargo} test -p "$1" --no-run --message-format=json |
        jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable != null)
               | (.manifest_path | sub("/[^/]*$"; "")) + "\t" + .executable' | {
        n=0
        while IFS=$'\t' read -r dir bin; do
            [ $n = 0 ] && printf '%s\n' "--$2" "$dir"
            printf '%s\n' "$bin"
            n=$((n + 1))
        done
        [ $n -gt 0 ] || { echo "test-v2: cargo reported no test binaries for $1" >&2; exit 1; }
    }
}
command -v jq >/dev/null || hack/deps.sh
# The escape tests compile their attacker with rustc at run time; the VM has
# no rustup on its PATH, so name the toolchain's real compiler.
RUSTC=${RUSTC:-$(rustc --print sysroot)/bin/rustc}
export RUSTC
echo "test-v2: building the test binaries" >&2
cgroups=$(test_bins husk-cgroups cgroups)
integration=$(test_bins husk-integration integration)
mapfile -t suite_args <<<"$cgroups"$'\n'"$integration"

results=$PWD/target/vm-test-v2
rm -rf "$results"   # never report an older run's results
start=$SECONDS
rc=0
hack/vm/run.sh --timeout "${HUSK_VM_TIMEOUT:-2400}" -- \
    "$HERE/suite.sh" "$results" "${suite_args[@]}" || rc=$?
echo "test-v2: VM run took $((SECONDS - start))s, exit status $rc; logs in $results/" >&2
# repeat the verdict as the last line ("N passed, M failed")
tail -n 1 "$results/summary.txt" 2>/dev/null | grep -E '^[0-9]+ passed, [0-9]+ failed$' || true
exit "$rc"
