# containerd/ctr scenarios (sourced by run.sh inside each scenario's bash).
# A private containerd (own root, state, sockets) runs for the ctr and cri groups.
# Env: RT, RTBIN, E2E_TMP.

CD_DIR=$E2E_TMP/containerd
CD_SOCK=$CD_DIR/containerd.sock
CIMG=localhost/husk-busybox:latest
CPAUSE=localhost/husk-pause:latest
CN=e2e-${RT:-none}
# The runc shim keeps runtime state under /run/containerd/runc/<namespace>
# (its Root option); containerd's own task state is under its state dir.
SHIM_ROOT=/run/containerd/runc

cctr() { t ctr --address "$CD_SOCK" "$@"; }

# CRI RuntimeClass handlers, NAME=BINARY each (the bench adds crun).
CD_RUNTIMES=${CD_RUNTIMES:-runc=$RUNC husk=$HUSK}

cd_runtime_tables() {
    local r t='plugins."io.containerd.grpc.v1.cri".containerd.runtimes'
    for r in $CD_RUNTIMES; do
        printf '    [%s.%s]\n      runtime_type = "io.containerd.runc.v2"\n' "$t" "${r%%=*}"
        printf '      [%s.%s.options]\n        BinaryName = "%s"\n' "$t" "${r%%=*}" "${r#*=}"
    done
}

containerd_start() {
    mkdir -p "$CD_DIR/cni-conf"
    if [ -S "$CD_SOCK" ] && ctr --address "$CD_SOCK" version >/dev/null 2>&1; then return 0; fi
    cat >"$CD_DIR/config.toml" <<TOML
version = 2
root = "$CD_DIR/root"
state = "$CD_DIR/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$CD_SOCK"
[ttrpc]
  address = "$CD_SOCK.ttrpc"
[debug]
  level = "debug"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$CPAUSE"
  enable_selinux = false
  disable_apparmor = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
$(cd_runtime_tables)
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CD_DIR/cni-conf"
TOML
    (setsid containerd --config "$CD_DIR/config.toml" >"$E2E_RESULTS/containerd.log" 2>&1 & echo $! >"$CD_DIR/pid")
    wait_for 30 ctr --address "$CD_SOCK" version
}

ctr_setup() {
    containerd_start
    local ns
    for ns in default k8s.io; do
        t skopeo copy --quiet "oci:$E2E_TMP/image/busybox:latest" "docker-archive:$CD_DIR/busybox-$ns.tar:$CIMG"
        cctr -n "$ns" images import "$CD_DIR/busybox-$ns.tar"
        t skopeo copy --quiet "oci:$E2E_TMP/image/busybox:pause" "docker-archive:$CD_DIR/pause-$ns.tar:$CPAUSE"
        cctr -n "$ns" images import "$CD_DIR/pause-$ns.tar"
        cctr -n "$ns" images ls -q
    done
}

ctr_cleanup() {
    [ -S "$CD_SOCK" ] || return 0
    local ns c
    for ns in default k8s.io; do
        for c in $(ctr --address "$CD_SOCK" -n "$ns" tasks ls -q 2>/dev/null); do
            timeout 20 ctr --address "$CD_SOCK" -n "$ns" tasks kill -a -s SIGKILL "$c"
            timeout 20 ctr --address "$CD_SOCK" -n "$ns" tasks delete -f "$c"
        done
        for c in $(ctr --address "$CD_SOCK" -n "$ns" containers ls -q 2>/dev/null); do
            timeout 20 ctr --address "$CD_SOCK" -n "$ns" containers delete "$c"
        done
    done
    if [ -f "$CD_DIR/pid" ]; then
        kill "$(cat "$CD_DIR/pid")" 2>/dev/null
        for _ in $(seq 20); do kill -0 "$(cat "$CD_DIR/pid")" 2>/dev/null || break; sleep 0.5; done
        rm -f "$CD_DIR/pid"
    fi
    # leftovers of shims (their own process groups) and the default cgroup parent
    rmdir /sys/fs/cgroup/*/default/e2e-* /sys/fs/cgroup/*/k8s.io/* /sys/fs/cgroup/*/default /sys/fs/cgroup/*/k8s.io 2>/dev/null
    rmdir /sys/fs/cgroup/unified/default/e2e-* /sys/fs/cgroup/unified/default 2>/dev/null
    return 0
}

ctr_postmortem() { # T0: containerd's log lines since the scenario began
    echo "---- containerd log (errors/warnings since the scenario started) ----"
    log_since "$E2E_RESULTS/containerd.log" "$1"
}

ctr_forget() { # removes a leftover container of an earlier run
    cctr tasks kill -s SIGKILL "$1" >/dev/null 2>&1 || true
    cctr tasks delete -f "$1" >/dev/null 2>&1 || true
    cctr containers delete "$1" >/dev/null 2>&1 || true
}

crun_() { # ctr run with the runtime under test
    cctr run --runc-binary "$RTBIN" "$@"
}

c_run_exit() {
    capture out rc crun_ --rm "$CIMG" "$CN-run" sh -c 'echo hi; exit 3'
    expect_eq "exit code" 3 "$rc"
    expect_eq "output" hi "$out"
}

c_env_cwd() {
    capture out rc crun_ --rm --env FOO=bar --cwd /tmp "$CIMG" "$CN-env" sh -c 'echo "$FOO $(pwd) $(id -u)"'
    expect_eq "exit code" 0 "$rc"
    expect_eq "env cwd uid" "bar /tmp 0" "$out"
}

c_read_only() {
    capture out rc crun_ --rm --read-only "$CIMG" "$CN-ro" sh -c 'touch /x 2>&1; echo rc=$?'
    expect_eq "exit code" 0 "$rc"
    expect_match "read-only rootfs" 'Read-only file system' "$out"
}

c_mount_ro() {
    local d=$E2E_TMP/ctr-mnt-$RT
    rm -rf "$d"; mkdir -p "$d"; echo from-host >"$d/f"
    capture out rc crun_ --rm --mount "type=bind,src=$d,dst=/m,options=rbind:ro" "$CIMG" "$CN-mnt" sh -c 'cat /m/f; touch /m/g 2>&1; echo rc=$?'
    expect_eq "exit code" 0 "$rc"
    expect_match "file seen" 'from-host' "$out"
    expect_match "ro bind" 'Read-only file system' "$out"
    [ ! -e "$d/g" ] || fail "file written through a ro bind"
}

c_memory_limit() {
    # ctr's spec mounts no cgroupfs inside: read the limit from the host, in
    # the cgroup ctr asks for (/default/ID), v1 or v2.
    local c=$CN-mem f
    ctr_forget "$c"
    crun_ -d --memory-limit 67108864 "$CIMG" "$c" sleep 1000
    wait_for 10 sh -c "ctr --address $CD_SOCK tasks ls | grep -q '^$c .*RUNNING'"
    if [ -d /sys/fs/cgroup/memory ]; then f=/sys/fs/cgroup/memory/default/$c/memory.limit_in_bytes; else f=/sys/fs/cgroup/default/$c/memory.max; fi
    out=$(cat "$f" 2>&1) || true
    ctr_forget "$c"
    expect_eq "memory limit ($f)" 67108864 "$out"
}

c_tty() {
    capture out rc script -qfec "timeout 60 ctr --address $CD_SOCK run --runc-binary $RTBIN --rm -t $CIMG $CN-tty sh -c '[ -t 0 ] && echo stdin-tty; tty; exit 4'" /dev/null
    expect_eq "exit code" 4 "$rc"
    expect_match "tty" 'stdin-tty' "$out"
    expect_match "pts" '/dev/pts/[0-9]' "$out"
}

task_status() { cctr tasks ls | awk -v id="$1" '$1==id{print $3}'; }
task_pid() { cctr tasks ls | awk -v id="$1" '$1==id{print $2}'; }

c_exec_ps_pause_kill_delete() {
    local c=$CN-life pid
    ctr_forget "$c"
    crun_ -d "$CIMG" "$c" sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/n.t; mv /tmp/n.t /tmp/n; sleep 0.1; done'
    wait_for 10 sh -c "ctr --address $CD_SOCK tasks ls | grep -q '^$c .*RUNNING'"
    pid=$(task_pid "$c")
    capture out rc cctr tasks exec --exec-id e1 "$c" sh -c 'echo in-exec; exit 6'
    expect_eq "exec exit code" 6 "$rc"
    expect_eq "exec output" in-exec "$out"
    capture out rc script -qfec "timeout 60 ctr --address $CD_SOCK tasks exec -t --exec-id e2 $c sh -c '[ -t 0 ] && echo exec-tty; exit 2'" /dev/null
    expect_eq "exec -t exit code" 2 "$rc"
    expect_match "exec -t" 'exec-tty' "$out"
    capture out rc cctr tasks ps "$c"
    expect_eq "ps exit" 0 "$rc"
    expect_match "ps lists the init" "(^|[[:space:]])$pid([[:space:]]|$)" "$out"
    capture out rc cctr tasks pause "$c"
    expect_eq "pause" 0 "$rc"
    expect_eq "status after pause" PAUSED "$(task_status "$c")"
    capture out rc cctr tasks resume "$c"
    expect_eq "resume" 0 "$rc"
    expect_eq "status after resume" RUNNING "$(task_status "$c")"
    capture out rc cctr tasks kill -s SIGKILL "$c"
    expect_eq "kill" 0 "$rc"
    wait_for 10 sh -c "ctr --address $CD_SOCK tasks ls | grep -q '^$c .*STOPPED'"
    capture out rc cctr tasks delete "$c"
    expect_eq "task delete" 0 "$rc"
    capture out rc cctr containers delete "$c"
    expect_eq "container delete" 0 "$rc"
    [ ! -e "$SHIM_ROOT/default/$c" ] || { ls -la "$SHIM_ROOT/default/$c"; fail "runtime state dir left: $SHIM_ROOT/default/$c"; }
    [ ! -e "$CD_DIR/state/io.containerd.runtime.v2.task/default/$c" ] || fail "containerd task dir left"
    local left
    left=$(ls -d /sys/fs/cgroup/*/default/"$c" /sys/fs/cgroup/default/"$c" 2>/dev/null || true)
    [ -z "$left" ] || fail "cgroups left: $left"
    kill -0 "$pid" 2>/dev/null && fail "init pid $pid still alive"
    return 0
}

c_kill_all() {
    local c=$CN-killall
    ctr_forget "$c"
    crun_ -d "$CIMG" "$c" sh -c 'sleep 1001 & sleep 1002 & wait'
    wait_for 10 sh -c "ctr --address $CD_SOCK tasks ls | grep -q '^$c .*RUNNING'"
    cctr tasks exec -d --exec-id bg "$c" sleep 1003 || true
    sleep 0.5
    capture out rc cctr tasks ps "$c"
    local n
    n=$(printf '%s\n' "$out" | awk 'NR>1' | grep -c . || true)
    [ "$n" -ge 4 ] || fail "expected >= 4 processes before kill --all, got $n"
    capture out rc cctr tasks kill --all -s SIGKILL "$c"
    expect_eq "kill --all" 0 "$rc"
    wait_for 10 sh -c "ctr --address $CD_SOCK tasks ls | grep -q '^$c .*STOPPED'"
    pgrep -f 'sleep 100[123]' && fail "processes left after kill --all"
    cctr tasks delete "$c"
    cctr containers delete "$c"
}

c_caps() {
    local hostcap
    hostcap=$(awk '/CapBnd/{print $2}' /proc/self/status)
    capture out rc crun_ --rm "$CIMG" "$CN-caps" grep CapEff /proc/self/status
    expect_match "default caps (runc's default set)" 'CapEff:[[:space:]]+00000000a80425fb' "$out"
    capture out rc crun_ --rm --privileged "$CIMG" "$CN-priv" sh -c 'grep CapEff /proc/self/status; ls /dev | wc -l'
    expect_eq "exit code" 0 "$rc"
    expect_match "privileged caps" "CapEff:[[:space:]]+$hostcap" "$out"
}

c_net_host() {
    local host
    host=$(readlink /proc/self/ns/net)
    capture out rc crun_ --rm --net-host "$CIMG" "$CN-nethost" readlink /proc/self/ns/net
    expect_eq "host netns" "$host" "$out"
    capture out rc crun_ --rm "$CIMG" "$CN-netpriv" readlink /proc/self/ns/net
    [ "$out" != "$host" ] || fail "default container shares the host netns"
}

c_join_netns() {
    local c1=$CN-ns1 pid want
    ctr_forget "$c1"
    crun_ -d "$CIMG" "$c1" sleep 1000
    wait_for 10 sh -c "ctr --address $CD_SOCK tasks ls | grep -q '^$c1 .*RUNNING'"
    pid=$(task_pid "$c1")
    want=$(readlink "/proc/$pid/ns/net")
    capture out rc crun_ --rm --with-ns "network:/proc/$pid/ns/net" "$CIMG" "$CN-ns2" readlink /proc/self/ns/net
    cctr tasks kill -s SIGKILL "$c1"; sleep 0.5; cctr tasks delete "$c1"; cctr containers delete "$c1"
    expect_eq "exit code" 0 "$rc"
    expect_eq "joined netns" "$want" "$out"
}

c_userns() {
    # ctr run --uidmap/--gidmap makes a remapped (chowned) snapshot itself.
    capture out rc crun_ --rm --uidmap 0:100000:65536 --gidmap 0:100000:65536 "$CIMG" "$CN-userns" sh -c 'cat /proc/self/uid_map; id -u; stat -c %u /bin/busybox'
    expect_eq "exit code" 0 "$rc"
    expect_match "uid_map" '^[[:space:]]*0[[:space:]]+100000[[:space:]]+65536' "$out"
}

c_oom() {
    local c=$CN-oom evlog=$E2E_TMP/ctr-events-$RT.log epid
    (timeout 60 ctr --address "$CD_SOCK" events >"$evlog" 2>&1 & echo $! >"$evlog.pid")
    sleep 0.5
    # dd's 64 MiB buffer is filled from /dev/zero: beyond an 8 MiB limit. The
    # sleep first lets the shim register its OOM watch (else the event races).
    capture out rc crun_ --rm --memory-limit 8388608 "$CIMG" "$c" sh -c 'sleep 1; exec dd if=/dev/zero of=/dev/null bs=64M count=2'
    sleep 1
    epid=$(cat "$evlog.pid"); kill "$epid" 2>/dev/null || true
    cat "$evlog" >&2
    expect_eq "exit code (SIGKILL by the OOM killer)" 137 "$rc"
    grep -q "/tasks/oom.*$c" "$evlog" || fail "no /tasks/oom event for $c"
}
