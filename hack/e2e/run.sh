#!/usr/bin/env bash
# End-to-end suite: drives husk (and runc, as a control) through podman,
# Docker, containerd/ctr and containerd's CRI plugin. See hack/e2e/README.md.
#
#   hack/e2e/run.sh [GROUP|SCENARIO ...]     (groups: podman docker rootless ctr cri criu)
#
# Env: HUSK (default target/release/husk), RUNC (default: runc in PATH),
# E2E_RESULTS (default hack/e2e/results/<timestamp>), E2E_KEEP=1 keeps the
# temp dir, E2E_SKIP_DEPS=1 skips apt-get, E2E_CORPUS=DIR saves every config
# the engines hand husk into DIR (make corpus; hack/e2e/capture.py).
set -uo pipefail

E2E=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$E2E/../.." && pwd)
export E2E
export HUSK=${HUSK:-$REPO/target/release/husk}
export RUNC=${RUNC:-$(command -v runc || echo /usr/sbin/runc)}
export E2E_RESULTS=${E2E_RESULTS:-$E2E/results/$(date +%Y%m%d-%H%M%S)}
SCENARIO_LIMIT=${SCENARIO_LIMIT:-180}
start_ts=$(date +%s)

[ "$(id -u)" -eq 0 ] || { echo "e2e: must run as root" >&2; exit 2; }
[ -x "$HUSK" ] || { echo "e2e: $HUSK not found: run make build" >&2; exit 2; }

if [ "${E2E_SKIP_DEPS:-0}" != 1 ]; then
    "$E2E/deps.sh" || { echo "e2e: installing dependencies failed" >&2; exit 2; }
fi

mkdir -p "$E2E_RESULTS"
E2E_RESULTS=$(cd "$E2E_RESULTS" && pwd)
export E2E_TMP
E2E_TMP=$(mktemp -d /tmp/husk-e2e.XXXXXX)
chmod 755 "$E2E_TMP" # user-namespaced containers (uid 100000) traverse it
touch "$E2E_TMP/started" # what the suite's engines leave is newer than this
export IMG_P=localhost/husk-busybox:latest

export HUSK_REAL=$HUSK
if [ -n "${E2E_CORPUS:-}" ]; then
    # husk's place is taken by a wrapper that saves what it is handed.
    mkdir -p "$E2E_CORPUS"
    cat >"$E2E_TMP/husk-capture" <<WRAP
#!/bin/sh
python3 "$E2E/capture.py" "$E2E_CORPUS" "$E2E_TMP/corpus-scenario" "$E2E_TMP" -- "\$@" 2>>"$E2E_RESULTS/capture.log"
exec "$HUSK" "\$@"
WRAP
    chmod 755 "$E2E_TMP/husk-capture"
    HUSK=$E2E_TMP/husk-capture
fi

# shellcheck source=lib.sh
. "$E2E/lib.sh"

cleanup() {
    set +e
    echo "e2e: cleaning up" >&2
    (. "$E2E/podman.sh"; podman_cleanup) >>"$E2E_RESULTS/cleanup.log" 2>&1
    (. "$E2E/ctr.sh"; ctr_cleanup) >>"$E2E_RESULTS/cleanup.log" 2>&1
    (. "$E2E/docker.sh"; docker_cleanup) >>"$E2E_RESULTS/cleanup.log" 2>&1
    (. "$E2E/rootless.sh"; rootless_cleanup) >>"$E2E_RESULTS/cleanup.log" 2>&1
    # ctr leaves the fifo directories of detached execs (bg-stdin, …)
    # under the default /run/containerd/fifo: only those made since we began
    find /run/containerd/fifo -mindepth 1 -maxdepth 1 -type d -newer "$E2E_TMP/started" \
        -exec rm -rf {} + 2>/dev/null
    # vfs/overlay leftovers mounted under the temp dir
    grep -o " $E2E_TMP[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
    if [ "${E2E_KEEP:-0}" != 1 ]; then rm -rf "$E2E_TMP"; fi
    # empty cgroups of podman's cgroupfs parent, empty dirs of the shims
    # (a pod's cgroup that podman leaves in name=systemd and the unified
    # tree after `pod rm`, seen with runc as the runtime)
    rmdir /sys/fs/cgroup/*/libpod_parent/*/ /sys/fs/cgroup/*/libpod_parent 2>/dev/null
    rmdir /run/containerd/runc/* /run/containerd/runc /run/containerd/fifo /run/containerd/s /run/containerd 2>/dev/null
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "e2e: husk=$HUSK runc=$RUNC results=$E2E_RESULTS tmp=$E2E_TMP"
"$HUSK" --version | sed -n 1p  # sed, not head: reads all (see README)
"$RUNC" --version | sed -n 1p

echo "e2e: building the busybox image (umoci, no registry)"
"$E2E/image.sh" "$E2E_TMP/image/busybox" >"$E2E_RESULTS/image.log" 2>&1 || {
    cat "$E2E_RESULTS/image.log"; echo "e2e: image build failed" >&2; exit 2; }

# podman: a private containers.conf (husk supports --log-format=json).
export CONTAINERS_CONF=$E2E_TMP/containers.conf
cat >"$CONTAINERS_CONF" <<CONF
[containers]
# podman (as root) raises RLIMIT_NOFILE/NPROC to 1048576/4194304, beyond this
# host's hard limits (no CAP_SYS_RESOURCE here): use lower ones.
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "husk"]
events_logger = "file"
cgroup_manager = "cgroupfs"
[engine.runtimes]
husk = ["$HUSK"]
CONF

# Scenario table: GROUP SCENARIO [NOTE]
SCENARIOS=$(cat <<'S'
podman p_run_exit
podman p_env_workdir_user
podman p_read_only
podman p_limits
podman p_tty
podman p_tty_interactive
podman p_detach_exec_stop
podman p_pause_unpause
podman p_update
podman p_volume
podman p_cap_drop_all
podman p_seccomp
podman p_seccomp_default
podman p_network_none
podman p_userns
podman p_privileged
podman p_pod
podman p_restart_on_failure
podman p_logs
podman p_json_log_error
docker d_run_exit
docker d_tty
docker d_detach_exec_logs_stop
docker d_restart_on_failure
docker d_init
docker d_env_user_workdir
docker d_read_only_tmpfs
docker d_volumes
docker d_limits
docker d_update_pause_top
docker d_caps_seccomp
docker d_network
docker d_pid_host
docker d_privileged
docker d_healthcheck_events
rootless r_run_exit
rootless r_tty
rootless r_exec_stop
rootless r_keep_id
rootless r_volume
rootless r_network_slirp
ctr c_run_exit
ctr c_env_cwd
ctr c_read_only
ctr c_mount_ro
ctr c_memory_limit
ctr c_tty
ctr c_exec_ps_pause_kill_delete
ctr c_kill_all
ctr c_caps
ctr c_net_host
ctr c_join_netns
ctr c_userns
ctr c_oom
cri cri_pod_and_container
criu p_checkpoint_restore
S
)
# Known husk limitations: a husk failure here is expected and reported as such
# (none today; the form is NAME="why").
declare -A EXPECTED_HUSK_FAIL=()

want() { # GROUP SCENARIO [SELECTION...]: selected by group or scenario name
    local g=$1 s=$2; shift 2
    # CRIU works only on some kernels: the criu group runs when asked for
    # (make e2e-criu, in the VM) or where `criu check` passes.
    [ $# -eq 0 ] && [ "$g" = criu ] && ! criu check >/dev/null 2>&1 && return 1
    [ $# -eq 0 ] && return 0
    for a in "$@"; do [ "$a" = "$g" ] || [ "$a" = "$s" ] && return 0; done
    return 1
}

selected=$(while read -r g s; do want "$g" "$s" "$@" && echo "$g $s"; done <<<"$SCENARIOS")
groups=$(awk '{print $1}' <<<"$selected" | uniq)

declare -A RES
setup_ok() { # GROUP
    local g=$1
    echo "e2e: setting up $g"
    if ! ( set -e; . "$E2E/$g.sh"; "${g}_setup" ) >"$E2E_RESULTS/$g-setup.log" 2>&1; then
        echo "e2e: $g setup failed (see $E2E_RESULTS/$g-setup.log):" >&2
        tail -20 "$E2E_RESULTS/$g-setup.log" >&2
        return 1
    fi
}

for g in $groups; do
    group_ok=1
    setup_ok "$g" || group_ok=0
    for s in $(awk -v g="$g" '$1==g{print $2}' <<<"$selected"); do
        for rt in runc husk; do
            if [ "$rt" = husk ]; then bin=$HUSK; else bin=$RUNC; fi
            logf=$E2E_RESULTS/$g/$s.$rt.log
            mkdir -p "$E2E_RESULTS/$g"
            if [ "$group_ok" = 0 ]; then RES[$s.$rt]=setup; echo "setup of $g failed" >"$logf"; continue; fi
            t0=$(date +%s)
            echo "$g-$s" >"$E2E_TMP/corpus-scenario"
            RT=$rt RTBIN=$bin timeout -k 10 "$SCENARIO_LIMIT" bash -ec \
                ". \"$E2E/lib.sh\"; . \"$E2E/$g.sh\"; $s" >"$logf" 2>&1 </dev/null
            rc=$?
            dt=$(( $(date +%s) - t0 ))
            if [ $rc -eq 0 ]; then RES[$s.$rt]=pass; else RES[$s.$rt]=fail; fi
            [ $rc -eq 124 ] && echo "FAIL: scenario timed out after ${SCENARIO_LIMIT}s" >>"$logf"
            # post-mortem helpers (engine logs) for failures
            if [ $rc -ne 0 ] && declare -F "${g}_postmortem" >/dev/null 2>&1 || [ $rc -ne 0 ]; then
                ( . "$E2E/lib.sh"; . "$E2E/$g.sh"; if declare -F "${g}_postmortem" >/dev/null; then RT=$rt RTBIN=$bin "${g}_postmortem" "$t0"; fi ) >>"$logf" 2>&1
            fi
            printf '  %-32s %-5s %-5s (%ss)\n' "$s" "$rt" "${RES[$s.$rt]}" "$dt"
        done
    done
    ( . "$E2E/lib.sh"; . "$E2E/$g.sh"; if declare -F "${g}_teardown" >/dev/null; then "${g}_teardown"; fi ) >>"$E2E_RESULTS/$g-setup.log" 2>&1
done

# Table
passed=0 failed=0 broken=0 expected=0
summary=$E2E_RESULTS/summary.txt
{
printf '\n%-8s %-32s %-6s %-6s %s\n' GROUP SCENARIO runc husk NOTE
while read -r g s; do
    [ -n "$s" ] || continue
    r=${RES[$s.runc]:-skip} h=${RES[$s.husk]:-skip} note=
    if [ "$r" != pass ]; then
        note="broken scenario (fails under runc too)"; broken=$((broken + 1))
    elif [ "$h" = pass ]; then
        passed=$((passed + 1))
        if [ -n "${EXPECTED_HUSK_FAIL[$s]:-}" ]; then note="passes now: drop it from EXPECTED_HUSK_FAIL"; fi
    elif [ -n "${EXPECTED_HUSK_FAIL[$s]:-}" ]; then
        # A known limitation, listed and counted apart, not hidden.
        note="known limitation: ${EXPECTED_HUSK_FAIL[$s]}; log: $g/$s.husk.log"; expected=$((expected + 1))
    else
        failed=$((failed + 1))
        note="log: $g/$s.husk.log"
    fi
    printf '%-8s %-32s %-6s %-6s %s\n' "$g" "$s" "$r" "$h" "$note"
done <<<"$selected"
} >"$summary"
{
printf '\nbroken scenarios (runc fails too, not counted): %s; husk failures that are known limitations: %s\n' "$broken" "$expected"
printf 'total time: %ss; logs: %s\n' "$(( $(date +%s) - start_ts ))" "$E2E_RESULTS"
printf '%s passed, %s failed\n' "$passed" "$failed"
} >>"$summary"
cat "$summary"
[ "$failed" -eq 0 ]
