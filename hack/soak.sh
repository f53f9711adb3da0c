#!/usr/bin/env bash
# make soak: SOAK_RUNS (default 1000) cycles, one after the other, then zero
# errors and zero leftovers, and the p50/p99 latency of a cycle.
#
#   SOAK_MODE=direct (default): create/start/wait/delete of a busybox
#     container that runs `true`, state under /run/husk-soak, cgroups
#     /husk-soak/<id>. Leftovers looked for: state dirs, cgroups named after
#     the ids, mounts of the bundle, processes whose root is the rootfs.
#   SOAK_MODE=containerd (make soak-containerd): `ctr run --rm` of the same
#     image through a private containerd (hack/e2e/ctr.sh) with husk as the
#     runc shim's binary. Leftovers looked for: husk state dirs under the
#     shim's root, containerd tasks and containers, cgroups, mounts below the
#     temp dir (snapshots, rootfs), shim and container processes.
#
# Counts every failed command; exits non-zero on any error or leftover. Not
# part of CI (minutes, and it wants a quiet machine for its timing).
set -euo pipefail
cd "$(dirname "$0")/.."
HUSK=${HUSK:-$PWD/target/release/husk}
RUNS=${SOAK_RUNS:-1000}
MODE=${SOAK_MODE:-direct}
ROOT=/run/husk-soak
[ "$(id -u)" -eq 0 ] || { echo "soak: run as root" >&2; exit 1; }
[ -x "$HUSK" ] || { echo "soak: $HUSK not found (make build)" >&2; exit 1; }
command -v jq >/dev/null || hack/deps.sh
case $MODE in
    direct) ;;
    containerd) hack/e2e/deps.sh ;;
    *) echo "soak: SOAK_MODE is direct or containerd, not '$MODE'" >&2; exit 1 ;;
esac
HUSK=$(readlink -f "$HUSK")

work=$(mktemp -d /tmp/husk-soak.XXXXXX)
lat=$work/latency.us
: >"$lat"
prefix=soak-$$
errors=0
errlog=$work/errors.log
: >"$errlog"

fail() { # what, output file
    errors=$((errors + 1))
    { echo "== $1"; cat "$2"; } >>"$errlog"
}

husk() { "$HUSK" --root "$ROOT" "$@"; }

direct_cycles() {
local i id out status t0 base
bundle=$work/bundle
HUSK=$HUSK hack/mkbundle.sh "$bundle" true >/dev/null
rootfs=$(cd "$bundle/rootfs" && pwd -P)
base=$(cat "$bundle/config.json")
start_s=$(date +%s.%N)
for i in $(seq 1 "$RUNS"); do
    id=$prefix-$i
    jq --arg cg "/husk-soak/$id" '.linux.cgroupsPath = $cg' <<<"$base" >"$bundle/config.json"
    out=$work/out
    t0=${EPOCHREALTIME/[.,]/}
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
    echo $((${EPOCHREALTIME/[.,]/} - t0)) >>"$lat"
    progress "$i"
done
}

progress() {
    if [ $(($1 % 100)) -eq 0 ]; then
        echo "soak: $1/$RUNS cycles, $errors errors"
    fi
}

# containerd: the e2e suite's private containerd, its image, `ctr run --rm`.
containerd_cycles() {
    export E2E=$PWD/hack/e2e E2E_TMP=$work E2E_RESULTS=$work RUNC=$(command -v runc || echo /usr/sbin/runc)
    export HUSK
    # shellcheck source=e2e/lib.sh
    . hack/e2e/lib.sh
    # shellcheck source=e2e/ctr.sh
    . hack/e2e/ctr.sh
    fail() { # what, output file (lib.sh has a fail of its own)
        errors=$((errors + 1))
        { echo "== $1"; cat "$2"; } >>"$errlog"
    }
    trap '(set +e; ctr_cleanup) >>"$work/cleanup.log" 2>&1; shim_dirs_gone' EXIT
    echo "soak: building the image and starting containerd (logs in $work)"
    hack/e2e/image.sh "$work/image/busybox" >"$work/image.log" 2>&1 || { cat "$work/image.log"; exit 1; }
    ( set -e; ctr_setup ) >"$work/setup.log" 2>&1 || { tail -20 "$work/setup.log"; exit 1; }
    local i id out t0
    out=$work/out
    start_s=$(date +%s.%N)
    for i in $(seq 1 "$RUNS"); do
        id=$prefix-$i
        t0=${EPOCHREALTIME/[.,]/}
        if cctr run --runc-binary "$HUSK" --rm "$CIMG" "$id" true </dev/null >"$out" 2>&1; then
            echo $((${EPOCHREALTIME/[.,]/} - t0)) >>"$lat"
        else
            fail "ctr run $id" "$out"
            ctr_forget "$id"
        fi
        progress "$i"
    done
}

shim_dirs_gone() { # the shim's empty directories, as the e2e cleanup does
    rmdir /run/containerd/runc/* /run/containerd/runc /run/containerd/fifo /run/containerd/s \
        /run/containerd 2>/dev/null || true
}

# Leftovers.
cgroup_mounts() { # the field after " - " is the filesystem type
    awk '{for (i = 7; i < NF; i++) if ($i == "-") { if ($(i+1) ~ /^cgroup2?$/) print $5; break }}' \
        /proc/self/mountinfo | sort -u
}
left=0
report() { left=$((left + 1)); echo "soak: LEFTOVER $*"; }

direct_leftovers() {
    local d mp p r
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
    return 0
}

containerd_leftovers() {
    local d mp p left_ids
    # husk's own state (the shim's --root) and containerd's view
    for d in "$SHIM_ROOT"/default/"$prefix"-*; do [ -e "$d" ] && report "husk state dir $d"; done
    left_ids=$( { cctr tasks ls -q; cctr containers ls -q; } 2>/dev/null | { grep "^$prefix-" || true; } |
        sort -u | tr '\n' ' ')
    [ -z "$left_ids" ] || report "containerd tasks/containers: $left_ids"
    while read -r mp; do
        for d in "$mp"/default/"$prefix"-*; do [ -e "$d" ] && report "cgroup $d"; done
    done < <(cgroup_mounts)
    # rootfs and snapshot mounts below the temp dir: the snapshotter keeps
    # none mounted between containers (the image's layers are plain dirs)
    if grep -q " $work" /proc/self/mountinfo; then
        report "mounts: $(grep " $work" /proc/self/mountinfo | awk '{print $5}' | tr '\n' ' ')"
    fi
    for p in /proc/[0-9]*; do
        if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "-id $prefix-"; then
            report "shim process ${p#/proc/} ($(tr '\0' ' ' <"$p/cmdline"))"
        fi
        case $(readlink "$p/root" 2>/dev/null || true) in
            "$work"/*) report "process ${p#/proc/} ($(cat "$p/comm" 2>/dev/null))" ;;
        esac
    done
    return 0
}

"${MODE}_cycles"
end_s=$(date +%s.%N)
"${MODE}_leftovers"
if [ "$MODE" = containerd ]; then
    trap - EXIT
    (set +e; ctr_cleanup) >>"$work/cleanup.log" 2>&1
    shim_dirs_gone
fi

read -r elapsed per < <(awk -v a="$start_s" -v b="$end_s" -v n="$RUNS" \
    'BEGIN { printf "%.1f %.1f\n", b - a, 1000 * (b - a) / n }')
read -r p50 p99 < <(sort -n "$lat" | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "- -"; exit }
    i50 = int(0.50 * NR + 0.5); i99 = int(0.99 * NR + 0.5); if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1
    printf "%.1f %.1f\n", v[i50] / 1000, v[i99] / 1000 }')
case $MODE in
    direct) what="create/start/wait/delete" ;;
    containerd) what="ctr run --rm" ;;
esac
echo "soak ($MODE): $RUNS cycles in $elapsed s ($per ms per $what; p50 $p50 ms, p99 $p99 ms), $errors errors, $left leftovers"
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
