#!/usr/bin/env bash
# make soak: SOAK_RUNS (default 1000) create/start/wait/delete cycles of a
# busybox container that runs `true`, one after the other, with state under
# /run/husk-soak and cgroups /husk-soak/<id>. Counts every failed command;
# afterwards checks for leftovers: state dirs, cgroups named after the ids,
# mounts of the bundle, processes whose root is the rootfs. Exits non-zero
# on any error or leftover. Not part of CI (minutes, and it wants a quiet
# machine for its timing).
set -euo pipefail
cd "$(dirname "$0")/.."
HUSK=${HUSK:-$PWD/target/release/husk}
RUNS=${SOAK_RUNS:-1000}
ROOT=/run/husk-soak
[ "$(id -u)" -eq 0 ] || { echo "soak: run as root" >&2; exit 1; }
[ -x "$HUSK" ] || { echo "soak: $HUSK not found (make build)" >&2; exit 1; }
command -v jq >/dev/null || hack/deps.sh

work=$(mktemp -d /tmp/husk-soak.XXXXXX)
bundle=$work/bundle
HUSK=$HUSK hack/mkbundle.sh "$bundle" true >/dev/null
rootfs=$(cd "$bundle/rootfs" && pwd -P)
base=$(cat "$bundle/config.json")
prefix=soak-$$
errors=0
errlog=$work/errors.log
: >"$errlog"

fail() { # what, output file
    errors=$((errors + 1))
    { echo "== $1"; cat "$2"; } >>"$errlog"
}

husk() { "$HUSK" --root "$ROOT" "$@"; }

start_s=$(date +%s.%N)
for i in $(seq 1 "$RUNS"); do
    id=$prefix-$i
    jq --arg cg "/husk-soak/$id" '.linux.cgroupsPath = $cg' <<<"$base" >"$bundle/config.json"
    out=$work/out
    husk create --bundle "$bundle" "$id" >"$out" 2>&1 || { fail "create $id" "$out"; continue; }
    husk start "$id" >"$out" 2>&1 || fail "start $id" "$out"
    # `true` exits at once: wait (bounded) for "stopped".
    for _ in $(seq 1 400); do
        status=$(husk state "$id" 2>/dev/null | jq -r .status || true)
        [ "$status" = stopped ] && break
        sleep 0.005
    done
    [ "$status" = stopped ] || { echo "status $status" >"$out"; fail "wait $id" "$out"; }
    husk delete "$id" >"$out" 2>&1 || { fail "delete $id" "$out"; husk delete --force "$id" >/dev/null 2>&1 || true; }
    if [ $((i % 100)) -eq 0 ]; then
        echo "soak: $i/$RUNS cycles, $errors errors"
    fi
done
end_s=$(date +%s.%N)

# Leftovers.
cgroup_mounts() { # the field after " - " is the filesystem type
    awk '{for (i = 7; i < NF; i++) if ($i == "-") { if ($(i+1) ~ /^cgroup2?$/) print $5; break }}' \
        /proc/self/mountinfo | sort -u
}
left=0
report() { left=$((left + 1)); echo "soak: LEFTOVER $*"; }
if [ -d "$ROOT" ]; then
    for d in "$ROOT"/*; do [ -e "$d" ] && report "state dir $d"; done
fi
while read -r mp; do
    for d in "$mp"/husk-soak/"$prefix"-*; do [ -e "$d" ] && report "cgroup $d"; done
done < <(cgroup_mounts)
if grep -q " $work" /proc/self/mountinfo; then
    report "mounts: $(grep " $work" /proc/self/mountinfo | awk '{print $5}' | tr '\n' ' ')"
fi
for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null || true)
    case $r in "$rootfs"*) report "process ${p#/proc/} ($(cat "$p/comm" 2>/dev/null))" ;; esac
done

read -r elapsed per < <(awk -v a="$start_s" -v b="$end_s" -v n="$RUNS" \
    'BEGIN { printf "%.1f %.1f\n", b - a, 1000 * (b - a) / n }')
echo "soak: $RUNS cycles in $elapsed s ($per ms per create/start/wait/delete), $errors errors, $left leftovers"
if [ "$errors" -gt 0 ]; then
    echo "soak: errors (first 40 lines of $errlog):"
    head -40 "$errlog"
fi
# Empty parents made for the soak.
while read -r mp; do rmdir "$mp/husk-soak" 2>/dev/null || true; done < <(cgroup_mounts)
rmdir "$ROOT" 2>/dev/null || true
if [ "$errors" -eq 0 ] && [ "$left" -eq 0 ]; then
    rm -rf "$work"
    exit 0
fi
echo "soak: kept $work for inspection"
exit 1
