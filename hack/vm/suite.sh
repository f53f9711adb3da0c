#!/bin/bash
# Runs inside the test VM (started by test-v2.sh):
#   suite.sh RESULTS_DIR --cgroups PKG_DIR BIN... --integration PKG_DIR BIN...
# Checks that the guest is pure cgroup v2, runs every test binary (none is
# skipped; the integration ones with --test-threads=2), keeps each one's
# output in RESULTS_DIR/<name>.log, prints one line per binary and ends with
# "N passed, M failed" (tests, from libtest's "test result:" lines; a binary
# that ends without one counts as one failed test). Exit status 1 if anything
# failed.
set -uo pipefail
results=$1
shift
rm -rf "$results"
mkdir -p "$results"
summary=$results/summary.txt
: >"$summary"
say() { echo "$*" | tee -a "$summary"; }

fstype=$(stat -fc %T /sys/fs/cgroup)
if [ "$fstype" != cgroup2fs ] || grep -q ' cgroup ' /proc/mounts; then
    say "v2-check FAILED: /sys/fs/cgroup is $fstype, not a pure cgroup v2 guest"
    say "0 passed, 1 failed"
    exit 1
fi
say "v2-check ok: cgroup2fs, $(uname -r), controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"

passed=0 failed=0 bad=0 kind= dir=/
declare -a lines=()
while [ $# -gt 0 ]; do
    bin=$1
    shift
    case $bin in --cgroups|--integration) kind=${bin#--} dir=$1; shift; continue ;; esac
    name=$(basename "$bin"); name=${name%-*}   # cargo's <name>-<hash>
    log=$results/$name.log
    args=()
    [ "$kind" = integration ] && args=(--test-threads=2)
    echo "=== $kind: $name ${args[*]}"
    t0=$SECONDS
    (cd "$dir" && "$bin" "${args[@]}") 2>&1 | tee "$log"   # cwd as under cargo test
    rc=${PIPESTATUS[0]}
    result=$(grep '^test result: ' "$log" | tail -n 1)
    p=$(sed -n 's/.* \([0-9]*\) passed;.*/\1/p' <<<"$result")
    f=$(sed -n 's/.* \([0-9]*\) failed;.*/\1/p' <<<"$result")
    ign=$(sed -n 's/.* \([0-9]*\) ignored;.*/\1/p' <<<"$result")
    if [ -z "$result" ]; then
        p=0 f=1 ign=0
        [ "$rc" = 0 ] && rc=1
    fi
    passed=$((passed + p)) failed=$((failed + f))
    status=PASS; [ "$rc" = 0 ] || { status=FAIL; bad=$((bad + 1)); }
    line="$status $name: $p passed, $f failed, $ign ignored, exit status $rc, $((SECONDS - t0))s"
    [ -z "$result" ] && line+=" (no libtest summary: crashed or killed)"
    lines+=("$line")
    while read -r t; do lines+=("    failed: $name::$t"); done < <(sed -n 's/^test \(.*\) \.\.\. FAILED$/\1/p' "$log")
done

echo
say "=== cgroup v2 test summary ($(uname -r))"
for l in "${lines[@]}"; do say "$l"; done
say "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$bad" = 0 ]
