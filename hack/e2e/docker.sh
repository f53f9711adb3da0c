# Docker scenarios (sourced by run.sh inside each scenario's bash).
# A private dockerd (Debian's docker.io 20.10: own data-root, exec-root,
# pidfile and socket under the temp dir, cgroupfs driver, no iptables) with
# husk registered as a runtime; runc is its built-in default, the control.
# Env: RT (runc|husk), RTBIN, E2E_TMP, HUSK.

DK_DIR=$E2E_TMP/docker
DK_SOCK=$DK_DIR/docker.sock
DIMG=localhost/husk-busybox:latest
DN=e2e-${RT:-none}

# Debian's client, not whatever `docker` comes first in PATH.
dk() { t /usr/bin/docker --host "unix://$DK_SOCK" "$@"; }
# docker run with the runtime under test (husk, or the built-in runc).
drun() { dk run --runtime "$RT" "$@"; }

# Runtimes registered besides the built-in runc, NAME=BINARY each (the bench adds crun).
DK_RUNTIMES=${DK_RUNTIMES:-husk=$HUSK}

docker_setup() { # once, before the scenarios
    local r add=()
    for r in $DK_RUNTIMES; do add+=(--add-runtime "$r"); done
    mkdir -p "$DK_DIR"
    # The daemon starts its own containerd under the exec-root.
    (setsid dockerd --data-root "$DK_DIR/root" --exec-root "$DK_DIR/exec" \
        --pidfile "$DK_DIR/pid" --host "unix://$DK_SOCK" --iptables=false \
        --ip6tables=false --ip-masq=false --exec-opt native.cgroupdriver=cgroupfs \
        --storage-driver overlay2 "${add[@]}" \
        >"$E2E_RESULTS/dockerd.log" 2>&1 &)
    wait_for 60 /usr/bin/docker --host "unix://$DK_SOCK" version
    t skopeo copy --quiet "oci:$E2E_TMP/image/busybox:latest" "docker-archive:$DK_DIR/busybox.tar:$DIMG"
    dk load -i "$DK_DIR/busybox.tar"
    dk images
}

docker_teardown() {
    docker_cleanup
}

docker_cleanup() {
    [ -S "$DK_SOCK" ] || return 0
    local c
    for c in $(/usr/bin/docker --host "unix://$DK_SOCK" ps -aq 2>/dev/null); do
        timeout 30 /usr/bin/docker --host "unix://$DK_SOCK" rm -f "$c" >/dev/null 2>&1
    done
    if [ -f "$DK_DIR/pid" ]; then
        local pid
        pid=$(cat "$DK_DIR/pid")
        kill "$pid" 2>/dev/null
        for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -9 "$pid" 2>/dev/null
        rm -f "$DK_DIR/pid"
    fi
    ip link del docker0 2>/dev/null
    rmdir /sys/fs/cgroup/*/docker /sys/fs/cgroup/unified/docker 2>/dev/null
    return 0
}

docker_postmortem() { # T0: dockerd's log lines since the scenario began
    echo "---- dockerd log (errors/warnings since the scenario started) ----"
    log_since "$E2E_RESULTS/dockerd.log" "$1"
}

d_forget() { dk rm -f "$@" >/dev/null 2>&1 || true; }

d_run_exit() {
    capture out rc drun --rm "$DIMG" sh -c 'echo hi; echo err >&2; exit 3'
    expect_eq "exit code" 3 "$rc"
    expect_match "stdout" '^hi' "$out"
    expect_match "stderr" 'err' "$out"
}

d_tty() {
    local cmd="timeout 60 /usr/bin/docker --host unix://$DK_SOCK run --runtime $RT -it --rm $DIMG sh -c '[ -t 0 ] && echo stdin-tty; tty; stty size; echo TTY_OK; exit 6'"
    capture out rc sh -c "sleep 3 | script -qec \"\$1\" /dev/null" sh "$cmd"
    expect_eq "exit code" 6 "$rc"
    expect_match "stdin is a tty" 'stdin-tty' "$out"
    expect_match "tty name" '/dev/pts/[0-9]' "$out"
    expect_match "output" 'TTY_OK' "$out"
}

d_detach_exec_logs_stop() {
    local c=$DN-detach
    d_forget "$c"
    # ignores SIGTERM: stop must fall back to SIGKILL after its timeout
    capture out rc drun -d --name "$c" "$DIMG" sh -c 'trap "" TERM; echo started; while :; do sleep 1; done'
    expect_eq "run -d" 0 "$rc"
    capture out rc dk exec "$c" sh -c 'echo in-exec; exit 7'
    expect_eq "exec exit code" 7 "$rc"
    expect_match "exec output" 'in-exec' "$out"
    capture out rc dk exec -u 1000 -e X=y -w /tmp "$c" sh -c 'echo "$(id -u) $X $(pwd)"'
    expect_eq "exec -u -e -w" "1000 y /tmp" "$out"
    capture out rc script -qec "timeout 60 /usr/bin/docker --host unix://$DK_SOCK exec -it $c sh -c '[ -t 0 ] && echo exec-tty'" /dev/null
    expect_match "exec -it" 'exec-tty' "$out"
    capture out rc dk logs "$c"
    expect_match "logs" 'started' "$out"
    capture out rc dk stop -t 2 "$c"
    expect_eq "stop" 0 "$rc"
    capture out rc dk inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$c"
    expect_eq "killed after the timeout" "exited 137" "$out"
    capture out rc dk rm "$c"
    expect_eq "rm" 0 "$rc"
}

d_restart_on_failure() {
    local c=$DN-restart
    d_forget "$c"
    capture out rc drun -d --name "$c" --restart on-failure:2 "$DIMG" sh -c 'echo run; exit 1'
    expect_eq "run -d" 0 "$rc"
    wait_for 60 sh -c "[ \"\$(/usr/bin/docker --host unix://$DK_SOCK inspect -f '{{.RestartCount}} {{.State.Status}}' $c)\" = '2 exited' ]"
    capture out rc dk logs "$c"
    expect_eq "three runs" 3 "$(printf '%s\n' "$out" | grep -c '^run')"
    d_forget "$c"
}

d_init() {
    capture out rc drun --rm --init "$DIMG" sh -c 'cat /proc/1/comm; echo $$'
    expect_eq "exit code" 0 "$rc"
    expect_match "pid 1 is docker-init" '^docker-init' "$out"
}

d_env_user_workdir() {
    capture out rc drun --rm -e FOO=bar -w /tmp -u 1000:1000 "$DIMG" sh -c 'echo "$FOO $(pwd) $(id -u) $(id -g)"'
    expect_eq "exit code" 0 "$rc"
    expect_eq "env cwd uid gid" "bar /tmp 1000 1000" "$out"
}

d_read_only_tmpfs() {
    capture out rc drun --rm --read-only --tmpfs /run:size=1m "$DIMG" sh -c 'touch /x 2>&1; touch /run/y && echo run-ok; grep " /run " /proc/mounts'
    expect_eq "exit code" 0 "$rc"
    expect_match "rootfs read-only" 'Read-only file system' "$out"
    expect_match "tmpfs writable" 'run-ok' "$out"
    expect_match "tmpfs size" 'size=1024k' "$out"
}

d_volumes() {
    local d=$E2E_TMP/docker-vol-$RT v=$DN-vol
    rm -rf "$d"; mkdir -p "$d"; echo from-host >"$d/f"
    dk volume rm -f "$v" >/dev/null 2>&1 || true
    capture out rc drun --rm -v "$d:/b" -v "$v:/n" "$DIMG" sh -c 'cat /b/f; echo from-ctr >/b/g; echo kept >/n/k'
    expect_eq "exit code" 0 "$rc"
    expect_match "bind seen" 'from-host' "$out"
    expect_eq "written through the bind" from-ctr "$(cat "$d/g")"
    capture out rc drun --rm -v "$v:/n:ro" "$DIMG" sh -c 'cat /n/k; touch /n/x 2>&1'
    expect_match "named volume kept" 'kept' "$out"
    expect_match "read-only volume" 'Read-only file system' "$out"
    dk volume rm -f "$v" >/dev/null
}

d_limits() {
    local cmd
    cmd="echo mem=\$($(cgroup_read_cmd memory memory.limit_in_bytes memory.max)); echo pids=\$($(cgroup_read_cmd pids pids.max pids.max)); echo cpu=\$($(cgroup_read_cmd cpu cpu.cfs_quota_us cpu.max))"
    capture out rc drun --rm --memory 64m --pids-limit 50 --cpus 0.5 "$DIMG" sh -c "$cmd"
    expect_eq "exit code" 0 "$rc"
    expect_match "memory" 'mem=67108864' "$out"
    expect_match "pids" 'pids=50' "$out"
    expect_match "cpu quota" 'cpu=50000' "$out"
}

d_update_pause_top() {
    local c=$DN-upd
    d_forget "$c"
    capture out rc drun -d --name "$c" --memory 64m "$DIMG" sleep 1000
    expect_eq "run -d" 0 "$rc"
    capture out rc dk update --memory 96m --memory-swap 192m --pids-limit 40 "$c"
    expect_eq "update" 0 "$rc"
    capture out rc dk exec "$c" sh -c "$(cgroup_read_cmd memory memory.limit_in_bytes memory.max); $(cgroup_read_cmd pids pids.max pids.max)"
    expect_match "memory updated" '^100663296' "$out"
    expect_match "pids updated" '40' "$out"
    capture out rc dk pause "$c"
    expect_eq "pause" 0 "$rc"
    expect_eq "paused" paused "$(dk inspect -f '{{.State.Status}}' "$c")"
    capture out rc dk unpause "$c"
    expect_eq "unpause" 0 "$rc"
    capture out rc dk top "$c"
    expect_eq "top" 0 "$rc"
    expect_match "top shows sleep" 'sleep 1000' "$out"
    d_forget "$c"
}

d_caps_seccomp() {
    capture out rc drun --rm --cap-drop ALL --cap-add NET_BIND_SERVICE "$DIMG" sh -c 'grep CapEff /proc/self/status; nc -l -p 80 -w 1 2>&1; echo bound=$?'
    expect_match "one capability" 'CapEff:[[:space:]]+0000000000000400' "$out"
    capture out rc drun --rm "$DIMG" sh -c 'grep Seccomp: /proc/self/status; unshare -r true 2>&1; echo rc=$?'
    expect_match "default profile loaded" 'Seccomp:[[:space:]]+2' "$out"
    expect_match "unshare denied" 'rc=[1-9]' "$out"
    capture out rc drun --rm --security-opt seccomp=unconfined "$DIMG" grep Seccomp: /proc/self/status
    expect_match "unconfined" 'Seccomp:[[:space:]]+0' "$out"
}

d_network() {
    local srv=$DN-srv port
    d_forget "$srv"
    capture out rc drun --rm --network none "$DIMG" sh -c 'ls /sys/class/net; cat /sys/class/net/lo/flags'
    expect_eq "none: only lo" "lo
0x9" "$out"
    # The default bridge and a published port, reached from the host.
    port=$((18000 + RANDOM % 1000))
    capture out rc drun -d --name "$srv" -p "127.0.0.1:$port:8080" "$DIMG" sh -c 'while :; do echo hi-from-docker | nc -l -p 8080; done'
    expect_eq "server" 0 "$rc"
    wait_for 20 sh -c "busybox nc -w 2 127.0.0.1 $port </dev/null | grep -q hi-from-docker"
    # Another container in its network namespace: localhost is shared.
    capture out rc drun --rm --network "container:$srv" "$DIMG" nc -w 2 127.0.0.1 8080
    expect_match "container:X shares localhost" 'hi-from-docker' "$out"
    d_forget "$srv"
}

d_pid_host() {
    # (ls's complaint about a process that exits while it lists /proc
    # would land in the captured output: stderr is dropped in the container)
    capture out rc drun --rm --pid host "$DIMG" sh -c 'ls /proc 2>/dev/null | grep -c "^[0-9]"'
    expect_eq "exit code" 0 "$rc"
    [ "$out" -gt 20 ] || fail "--pid host: only $out processes visible"
}

d_privileged() {
    # docker asks for every capability the kernel knows: a host whose own
    # bounding set lacks some (a sandbox) fails it under runc as well.
    local bnd last
    bnd=$(awk '/CapBnd/{print $2}' /proc/self/status)
    last=$(cat /proc/sys/kernel/cap_last_cap)
    if [ "$((16#$bnd))" -ne "$(( (1 << (last + 1)) - 1 ))" ]; then
        echo "SKIP: this host's capability bounding set ($bnd) is not full; docker --privileged cannot run here"
        return 0
    fi
    capture out rc drun --rm --privileged "$DIMG" sh -c 'grep CapEff /proc/self/status; ls /dev | wc -l; mount | grep " /sys "'
    expect_eq "exit code" 0 "$rc"
    expect_match "all capabilities" "CapEff:[[:space:]]+$(awk '/CapBnd/{print $2}' /proc/self/status)" "$out"
    expect_match "/sys read-write" 'sysfs on /sys type sysfs \(rw' "$out"
}

d_healthcheck_events() {
    local c=$DN-health since
    d_forget "$c"
    since=$(date +%s)
    capture out rc drun -d --name "$c" --health-cmd 'test -e /tmp/ok' --health-interval 1s --health-retries 1 "$DIMG" sh -c 'touch /tmp/ok; sleep 1000'
    expect_eq "run -d" 0 "$rc"
    wait_for 30 sh -c "[ \"\$(/usr/bin/docker --host unix://$DK_SOCK inspect -f '{{.State.Health.Status}}' $c)\" = healthy ]"
    capture out rc dk exec "$c" rm /tmp/ok
    wait_for 30 sh -c "[ \"\$(/usr/bin/docker --host unix://$DK_SOCK inspect -f '{{.State.Health.Status}}' $c)\" = unhealthy ]"
    # sh as pid 1 ignores SIGTERM: stop falls back to SIGKILL (137)
    capture out rc dk stop -t 1 "$c"
    expect_eq "stop" 0 "$rc"
    sleep 1
    capture out rc dk events --since "$since" --until "$(( $(date +%s) + 1 ))" --filter "container=$c" --format '{{.Action}} {{.Actor.Attributes.exitCode}}'
    expect_match "health status events" 'health_status: healthy' "$out"
    expect_match "die with the exit code" 'die 137' "$out"
    d_forget "$c"
}
