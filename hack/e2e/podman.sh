# podman scenarios (sourced by run.sh inside each scenario's bash).
# Env: RT (runc|husk), RTBIN (absolute runtime path), E2E_TMP, IMG_P, CONTAINERS_CONF.

PM_ROOT=$E2E_TMP/podman
pm() {
    t podman --root "$PM_ROOT/root" --runroot "$PM_ROOT/run" --storage-driver vfs \
        --cgroup-manager cgroupfs --events-backend file --tmpdir "$PM_ROOT/tmp" \
        --runtime "$RTBIN" "$@"
}
IMG=${IMG_P:-localhost/husk-busybox:latest}
N=e2e-${RT:-none}

podman_setup() { # once, before the scenarios
    mkdir -p "$PM_ROOT"
    t skopeo copy --quiet "oci:$E2E_TMP/image/busybox:latest" \
        "containers-storage:[vfs@$PM_ROOT/root+$PM_ROOT/run]$IMG"
    RTBIN=/bin/true pm images
}

podman_cleanup() {
    RTBIN=${HUSK} pm rm -fa -t 0 >/dev/null 2>&1 || true
    RTBIN=/usr/sbin/runc pm rm -fa -t 0 >/dev/null 2>&1 || true
}

p_run_exit() {
    capture out rc pm run --rm "$IMG" sh -c 'echo hi; echo err >&2; exit 3'
    expect_eq "exit code" 3 "$rc"
    expect_match "output" '^hi' "$out"
    expect_match "stderr" 'err' "$out"
}

p_env_workdir_user() {
    capture out rc pm run --rm -e FOO=bar -w /tmp -u 1000 "$IMG" sh -c 'echo "$FOO $(pwd) $(id -u) $(id -g)"'
    expect_eq "exit code" 0 "$rc"
    expect_eq "env cwd uid gid (gid from /etc/passwd)" "bar /tmp 1000 1000" "$out"
}

p_read_only() {
    capture out rc pm run --rm --read-only "$IMG" sh -c 'touch /x 2>&1; echo rc=$?; touch /tmp/y && echo tmp-ok'
    expect_eq "exit code" 0 "$rc"
    expect_match "rootfs read-only" 'Read-only file system' "$out"
    expect_match "rootfs read-only" 'rc=1' "$out"
    expect_match "/tmp writable (tmpfs)" 'tmp-ok' "$out"
}

p_limits() {
    local cmd
    cmd="echo mem=\$($(cgroup_read_cmd memory memory.limit_in_bytes memory.max)); echo pids=\$($(cgroup_read_cmd pids pids.max pids.max)); echo cpu=\$($(cgroup_read_cmd cpu cpu.cfs_quota_us cpu.max))"
    capture out rc pm run --rm --memory 64m --pids-limit 50 --cpus 0.5 "$IMG" sh -c "$cmd"
    expect_eq "exit code" 0 "$rc"
    expect_match "memory" 'mem=67108864' "$out"
    expect_match "pids" 'pids=50' "$out"
    expect_match "cpu quota" 'cpu=50000' "$out"
}

p_tty() {
    local podman_cmd
    podman_cmd="timeout 60 podman --root $PM_ROOT/root --runroot $PM_ROOT/run --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --tmpdir $PM_ROOT/tmp --runtime $RTBIN run --rm -t $IMG sh -c '[ -t 0 ] && echo stdin-tty; [ -t 1 ] && echo stdout-tty; tty; stty size; exit 5'"
    capture out rc script -qfec "$podman_cmd" /dev/null
    expect_eq "exit code" 5 "$rc"
    expect_match "stdin is a tty" 'stdin-tty' "$out"
    expect_match "stdout is a tty" 'stdout-tty' "$out"
    expect_match "tty name" '/dev/pts/[0-9]' "$out"
}

# -i as well as -t: conmon then keeps the container's stdin open through
# the terminal; the output must still reach the caller.
p_tty_interactive() {
    local podman_cmd
    podman_cmd="timeout 60 podman --root $PM_ROOT/root --runroot $PM_ROOT/run --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --tmpdir $PM_ROOT/tmp --runtime $RTBIN run -it --rm $IMG sh -c 'tty; echo TTY_OK; exit 6'"
    # stdin stays open as a person's terminal would (script ends at EOF).
    capture out rc sh -c "sleep 3 | script -qec \"\$1\" /dev/null" sh "$podman_cmd"
    expect_eq "exit code" 6 "$rc"
    expect_match "tty name" '/dev/pts/[0-9]' "$out"
    expect_match "output" 'TTY_OK' "$out"
}

p_detach_exec_stop() {
    local c=$N-detach
    pm rm -f -t 0 "$c" >/dev/null 2>&1 || true
    capture out rc pm run -d --name "$c" "$IMG" sleep 1000
    expect_eq "run -d" 0 "$rc"
    capture out rc pm exec "$c" sh -c 'echo in-exec $$; exit 7'
    expect_eq "exec exit code" 7 "$rc"
    expect_match "exec output" 'in-exec' "$out"
    capture out rc pm exec -u 1000 -e X=y -w /tmp "$c" sh -c 'echo "$(id -u) $X $(pwd)"'
    expect_eq "exec -u -e -w" "1000 y /tmp" "$out"
    capture out rc script -qfec "timeout 60 podman --root $PM_ROOT/root --runroot $PM_ROOT/run --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --tmpdir $PM_ROOT/tmp --runtime $RTBIN exec -t $c sh -c '[ -t 0 ] && echo exec-tty'" /dev/null
    expect_match "exec -t" 'exec-tty' "$out"
    capture out rc pm top "$c"
    expect_eq "top exit" 0 "$rc"
    expect_match "top shows sleep" 'sleep 1000' "$out"
    capture out rc pm ps -a --filter "name=$c" --format '{{.Status}}'
    expect_match "ps status" '^Up' "$out"
    capture out rc pm stop -t 2 "$c"
    expect_eq "stop" 0 "$rc"
    capture out rc pm inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$c"
    expect_eq "state after stop" "exited 137" "$out"
    capture out rc pm start "$c"
    expect_eq "restart with start" 0 "$rc"
    capture out rc pm kill -s KILL "$c"
    expect_eq "kill" 0 "$rc"
    wait_for 10 sh -c "[ \"\$(timeout 20 podman --root $PM_ROOT/root --runroot $PM_ROOT/run --storage-driver vfs --tmpdir $PM_ROOT/tmp inspect -f '{{.State.Status}}' $c)\" = exited ]"
    capture out rc pm rm "$c"
    expect_eq "rm" 0 "$rc"
}

p_pause_unpause() {
    local c=$N-pause
    pm rm -f -t 0 "$c" >/dev/null 2>&1 || true
    pm run -d --name "$c" "$IMG" sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/n.t; mv /tmp/n.t /tmp/n; sleep 0.1; done'
    capture out rc pm pause "$c"
    expect_eq "pause" 0 "$rc"
    capture out rc pm inspect -f '{{.State.Status}}' "$c"
    expect_eq "state" paused "$out"
    capture out rc pm unpause "$c"
    expect_eq "unpause" 0 "$rc"
    capture out rc pm inspect -f '{{.State.Status}}' "$c"
    expect_eq "state" running "$out"
    capture a rc pm exec "$c" cat /tmp/n
    sleep 1
    capture b rc pm exec "$c" cat /tmp/n
    [ "$b" -gt "$a" ] || fail "counter did not advance after unpause ($a -> $b)"
    pm rm -f -t 0 "$c"
}

p_update() {
    local c=$N-update cmd
    pm rm -f -t 0 "$c" >/dev/null 2>&1 || true
    pm run -d --name "$c" --memory 64m "$IMG" sleep 1000
    cmd="$(cgroup_read_cmd memory memory.limit_in_bytes memory.max)"
    capture out rc pm exec "$c" sh -c "$cmd"
    expect_eq "memory before" 67108864 "$out"
    capture out rc pm update --memory 128m "$c"
    expect_eq "update exit" 0 "$rc"
    capture out rc pm exec "$c" sh -c "$cmd"
    expect_eq "memory after update" 134217728 "$out"
    pm rm -f -t 0 "$c"
}

p_volume() {
    local d=$E2E_TMP/vol-$RT
    rm -rf "$d"; mkdir -p "$d"; echo from-host >"$d/in"
    capture out rc pm run --rm -v "$d:/data" "$IMG" sh -c 'cat /data/in; echo from-container > /data/out'
    expect_eq "exit code" 0 "$rc"
    expect_match "host file seen" 'from-host' "$out"
    expect_eq "container file on host" from-container "$(cat "$d/out")"
    capture out rc pm run --rm -v "$d:/data:ro" "$IMG" sh -c 'touch /data/x'
    expect_eq "ro volume write fails" 1 "$rc"
}

p_cap_drop_all() {
    capture out rc pm run --rm --cap-drop ALL "$IMG" grep -E '^Cap(Eff|Prm|Bnd):' /proc/self/status
    expect_eq "exit code" 0 "$rc"
    expect_match "CapEff" 'CapEff:[[:space:]]+0000000000000000' "$out"
    expect_match "CapBnd" 'CapBnd:[[:space:]]+0000000000000000' "$out"
    capture out rc pm run --rm "$IMG" grep CapEff /proc/self/status
    expect_nomatch "default CapEff non-zero" 'CapEff:[[:space:]]+0000000000000000' "$out"
}

p_seccomp() {
    # A profile that allows everything but mkdir/mkdirat (EPERM).
    local prof=$E2E_TMP/seccomp-deny-mkdir.json
    cat >"$prof" <<'J'
{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
 "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}
J
    capture out rc pm run --rm --security-opt "seccomp=$prof" "$IMG" sh -c 'mkdir /tmp/d && echo mkdir-worked; grep Seccomp: /proc/self/status'
    expect_match "seccomp mode filter" 'Seccomp:[[:space:]]+2' "$out"
    expect_nomatch "mkdir denied" 'mkdir-worked' "$out"
    expect_match "mkdir denied EPERM" 'Operation not permitted' "$out"
}

p_seccomp_default() {
    # podman sends its default profile (containers-common) with every
    # container unless told seccomp=unconfined.
    capture out rc pm run --rm "$IMG" grep Seccomp: /proc/self/status
    expect_match "default profile: filter mode" 'Seccomp:[[:space:]]+2' "$out"
    capture out rc pm run --rm --security-opt seccomp=unconfined "$IMG" grep Seccomp: /proc/self/status
    expect_match "unconfined: no filter" 'Seccomp:[[:space:]]+0' "$out"
}

p_network_none() {
    capture out rc pm run --rm --network none "$IMG" sh -c 'ls /sys/class/net'
    expect_eq "exit code" 0 "$rc"
    expect_eq "only lo" lo "$out"
    capture out rc pm run --rm "$IMG" sh -c 'ls /sys/class/net | sort | tr "\n" " "'
    expect_match "default network has eth0" 'eth0' "$out"
}

p_userns() {
    capture out rc pm run --rm --uidmap 0:100000:65536 --gidmap 0:100000:65536 "$IMG" sh -c 'cat /proc/self/uid_map /proc/self/gid_map; id -u; ls -ln /bin/busybox'
    expect_eq "exit code" 0 "$rc"
    expect_match "uid_map" '^[[:space:]]*0[[:space:]]+100000[[:space:]]+65536' "$out"
    expect_match "root inside" '(^|[[:space:]])0($|[[:space:]])' "$out"
}

# A pod (no registry: the infra container is our busybox, sleeping): its
# containers share the infra's network namespace and talk over localhost,
# which needs lo up in it.
p_pod() {
    local pod=$N-pod
    pm pod rm -f -t 0 "$pod" >/dev/null 2>&1 || true
    capture out rc pm pod create --network none --infra-image "$IMG" --infra-command "sleep 100000" --name "$pod"
    expect_eq "pod create" 0 "$rc"
    capture out rc pm run -d --pod "$pod" --name "$pod-srv" "$IMG" sh -c 'echo hi-from-pod | nc -l -p 8080'
    expect_eq "server" 0 "$rc"
    sleep 1
    capture out rc pm run --rm --pod "$pod" "$IMG" nc 127.0.0.1 8080
    expect_eq "client exit" 0 "$rc"
    expect_match "localhost in the pod" 'hi-from-pod' "$out"
    pm pod rm -f -t 0 "$pod" >/dev/null
}

p_privileged() {
    capture out rc pm run --rm --privileged "$IMG" sh -c 'grep CapEff /proc/self/status; ls /dev | wc -l; cat /proc/sys/kernel/hostname >/dev/null; mount | grep " /sys " '
    expect_eq "exit code" 0 "$rc"
    local hostcap
    hostcap=$(awk '/CapBnd/{print $2}' /proc/self/status)
    expect_match "CapEff = host bounding set" "CapEff:[[:space:]]+$hostcap" "$out"
    expect_match "/sys rw" '\(rw' "$out"
}

p_restart_on_failure() {
    local c=$N-restart
    pm rm -f -t 0 "$c" >/dev/null 2>&1 || true
    capture out rc pm run -d --name "$c" --restart on-failure:2 "$IMG" sh -c 'sleep 0.5; exit 1'
    expect_eq "run -d" 0 "$rc"
    wait_for 40 sh -c "timeout 20 podman --root $PM_ROOT/root --runroot $PM_ROOT/run --storage-driver vfs --tmpdir $PM_ROOT/tmp inspect -f '{{.RestartCount}} {{.State.Status}}' $c | grep -q '^2 exited'"
    capture out rc pm inspect -f '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}' "$c"
    expect_eq "restart count, status, exit" "2 exited 1" "$out"
    pm rm -f -t 0 "$c"
}

p_logs() {
    local c=$N-logs
    pm rm -f -t 0 "$c" >/dev/null 2>&1 || true
    pm run -d --name "$c" "$IMG" sh -c 'echo to-stdout; echo to-stderr >&2'
    wait_for 20 sh -c "timeout 20 podman --root $PM_ROOT/root --runroot $PM_ROOT/run --storage-driver vfs --tmpdir $PM_ROOT/tmp inspect -f '{{.State.Status}}' $c | grep -q exited"
    capture out rc pm logs "$c"
    expect_eq "logs exit" 0 "$rc"
    expect_match "stdout in logs" 'to-stdout' "$out"
    expect_match "stderr in logs" 'to-stderr' "$out"
    pm rm -f "$c"
}

p_json_log_error() {
    # containers.conf lists husk in runtime_supports_json, so podman passes
    # --log-format=json and reads the error back from the runtime's log.
    capture out rc pm run --rm "$IMG" /nonexistent-binary
    [ "$rc" -ne 0 ] || fail "expected a failure"
    expect_match "error names the program" 'nonexistent-binary' "$out"
    expect_nomatch "no raw json in the error" '"level"' "$out"
    expect_nomatch "no fallback 'parse' message" 'unable to parse|could not parse' "$out"
}

podman_postmortem() { # T0: the runtime's own log (oci-log, written with
    # --log-format=json) of containers still on disk, changed since the scenario began
    local f
    find "$PM_ROOT" -name oci-log -newermt "@$1" 2>/dev/null | while read -r f; do
        echo "---- $f"; cat "$f"
    done
}
