# Rootless podman scenarios (sourced by run.sh inside each scenario's bash):
# podman run by an unprivileged user (husk-e2e, made with subuid/subgid
# ranges if missing), vfs storage under the temp dir, the runtime a copy of
# husk the user can execute, or runc as the control.
# Env: RT (runc|husk), RTBIN, E2E_TMP, HUSK.

RL_USER=husk-e2e
RL_DIR=$E2E_TMP/rootless
RIMG=localhost/husk-busybox:latest
RN=e2e-rl-${RT:-none}

rl_runtime() { if [ "$RT" = husk ]; then echo "$RL_DIR/bin/husk"; else echo "$RTBIN"; fi; }

# as_user CMD...: runs CMD as the user, with the environment podman needs.
as_user() {
    t runuser -u "$RL_USER" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$RL_DIR/home" \
        USER="$RL_USER" XDG_RUNTIME_DIR="$RL_DIR/run" CONTAINERS_CONF="$CONTAINERS_CONF" "$@"
}

pmr_argv() {
    printf '%s\n' podman --root "$RL_DIR/root" --runroot "$RL_DIR/runroot" --storage-driver vfs \
        --cgroup-manager cgroupfs --events-backend file --runtime "$(rl_runtime)"
}

pmr() { as_user $(pmr_argv) "$@"; }

rootless_setup() { # once, before the scenarios
    id "$RL_USER" >/dev/null 2>&1 || useradd -m -s /bin/sh "$RL_USER"
    grep -q "^$RL_USER:" /etc/subuid || usermod --add-subuids 300000-365535 --add-subgids 300000-365535 "$RL_USER"
    mkdir -p "$RL_DIR/bin" "$RL_DIR/home" "$RL_DIR/run"
    # The husk the user runs must be one it can reach and execute.
    cp "$HUSK_REAL" "$RL_DIR/bin/husk"
    chmod 755 "$RL_DIR/bin" "$RL_DIR/bin/husk"
    cp -r "$E2E_TMP/image/busybox" "$RL_DIR/image"
    chown -R "$RL_USER:" "$RL_DIR/home" "$RL_DIR/run" "$RL_DIR/image"
    chown "$RL_USER:" "$RL_DIR"
    chmod 700 "$RL_DIR/run"
    chmod 755 "$RL_DIR"
    as_user skopeo copy --quiet "oci:$RL_DIR/image:latest" \
        "containers-storage:[vfs@$RL_DIR/root+$RL_DIR/runroot]$RIMG"
    RT=runc RTBIN=/bin/true pmr images
}

rootless_cleanup() {
    [ -d "$RL_DIR" ] || return 0
    RT=runc RTBIN=${RUNC:-/usr/sbin/runc} pmr rm -fa -t 0 >/dev/null 2>&1
    RT=husk pmr rm -fa -t 0 >/dev/null 2>&1
    # podman's rootless pause process and the user's processes of this run
    pkill -u "$RL_USER" 2>/dev/null
    # vfs layers the user's namespace made read-only for it
    chmod -R u+w "$RL_DIR" 2>/dev/null
    return 0
}

rootless_teardown() { rootless_cleanup; }

r_run_exit() {
    capture out rc pmr run --rm --network none "$RIMG" sh -c 'id -u; cat /proc/self/uid_map; echo hi; exit 4'
    expect_eq "exit code" 4 "$rc"
    expect_match "root inside" '^0' "$out"
    expect_match "the user's own id mapped to root" "0[[:space:]]+$(id -u "$RL_USER")[[:space:]]+1" "$out"
    expect_match "output" 'hi' "$out"
}

r_tty() {
    local cmd
    cmd="$(pmr_argv | tr '\n' ' ') run -it --rm --network none $RIMG sh -c 'tty; echo TTY_OK; exit 6'"
    capture out rc as_user sh -c "sleep 3 | script -qec \"\$1\" /dev/null" sh "$cmd"
    expect_eq "exit code" 6 "$rc"
    expect_match "tty name" '/dev/pts/[0-9]' "$out"
    expect_match "output" 'TTY_OK' "$out"
}

r_exec_stop() {
    local c=$RN-exec
    pmr rm -f -t 0 "$c" >/dev/null 2>&1 || true
    capture out rc pmr run -d --network none --name "$c" "$RIMG" sleep 1000
    expect_eq "run -d" 0 "$rc"
    capture out rc pmr exec "$c" sh -c 'echo in-exec; exit 7'
    expect_eq "exec exit code" 7 "$rc"
    expect_match "exec output" 'in-exec' "$out"
    capture out rc pmr stop -t 1 "$c"
    expect_eq "stop" 0 "$rc"
    capture out rc pmr rm "$c"
    expect_eq "rm" 0 "$rc"
}

r_keep_id() {
    capture out rc pmr run --rm --network none --userns keep-id "$RIMG" id -u
    expect_eq "exit code" 0 "$rc"
    expect_eq "the user's own uid inside" "$(id -u "$RL_USER")" "$out"
}

r_volume() {
    local d=$RL_DIR/home/vol-$RT
    as_user mkdir -p "$d"
    as_user sh -c "echo from-user >$d/f"
    capture out rc pmr run --rm --network none -v "$d:/v" "$RIMG" sh -c 'cat /v/f; echo from-ctr >/v/g'
    expect_eq "exit code" 0 "$rc"
    expect_match "volume seen" 'from-user' "$out"
    expect_eq "written back, owned by the user" "$RL_USER from-ctr" "$(stat -c %U "$d/g") $(cat "$d/g")"
}

r_network_slirp() {
    if ! as_user sh -c 'exec 3<>/dev/net/tun' 2>/dev/null; then
        echo "SKIP: /dev/net/tun is not usable by $RL_USER on this host ($(stat -c '%a %U' /dev/net/tun)): slirp4netns cannot run, with runc too"
        return 0
    fi
    local c=$RN-srv port=$((19000 + RANDOM % 1000))
    pmr rm -f -t 0 "$c" >/dev/null 2>&1 || true
    capture out rc pmr run -d --name "$c" --network slirp4netns -p "127.0.0.1:$port:8080" "$RIMG" sh -c 'while :; do echo hi-rootless | nc -l -p 8080; done'
    expect_eq "server" 0 "$rc"
    wait_for 20 sh -c "busybox nc -w 2 127.0.0.1 $port </dev/null | grep -q hi-rootless"
    pmr rm -f -t 0 "$c" >/dev/null
}
