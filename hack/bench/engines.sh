# hack/bench/engines.sh (sourced by bench.sh's inner stage): what an engine
# user gains. The same interleaved rounds as the direct scenarios, with husk,
# runc and crun as the runtime of:
#   eng.podman  podman run --rm IMAGE true       (root, overlay, default network)
#   eng.ctr     ctr run --rm IMAGE ID true       (a private containerd)
#   eng.cri     one pod through containerd's CRI plugin: RunPodSandbox, create
#               + start one container, stop, remove, StopPodSandbox,
#               RemovePodSandbox (hack/e2e/cri_client.py cycle; host network)
#   eng.docker  docker run --rm IMAGE true       (a private dockerd 20.10)
# The daemons and the image come from the e2e suite's helpers (hack/e2e), in
# this script's private mount namespace (so crun works on a hybrid host too).
# Uses bench.sh's BIN, RUNTIMES, TMP, OUT, N_ENG, rec, fail, order, log.

# hack/e2e/lib.sh has its own log and fail: it is sourced only in the
# subshells that call the e2e helpers; this is its time limit.
t() { timeout -k 5 "${T_LIMIT:-120}" "$@"; }

# The e2e helpers read these.
engines_env() {
    ENG_DIR=$TMP/eng
    export E2E=$repo/hack/e2e E2E_TMP=$ENG_DIR E2E_RESULTS=$OUT/engines
    export RUNC=${BIN[runc]:-/usr/sbin/runc} HUSK=${BIN[husk]:-$HUSK}
    local rt cd= dk=
    for rt in $RUNTIMES; do
        cd+="$rt=${BIN[$rt]} "
        # dockerd's built-in runc is the runc in PATH (the same binary).
        [ "$rt" = runc ] || dk+="$rt=${BIN[$rt]} "
    done
    export CD_RUNTIMES=$cd DK_RUNTIMES=$dk T_LIMIT=120
    export CONTAINERS_CONF=$ENG_DIR/containers.conf
}

engines_setup() {
    engines_env
    mkdir -p "$ENG_DIR" "$E2E_RESULTS"
    chmod 755 "$ENG_DIR"
    "$E2E/image.sh" "$ENG_DIR/image/busybox" >"$E2E_RESULTS/image.log" 2>&1 ||
        { tail "$E2E_RESULTS/image.log" >&2; return 1; }
    cat >"$CONTAINERS_CONF" <<CONF
[containers]
# this host's hard limits are below podman's defaults (see hack/e2e/run.sh)
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime_supports_json = ["crun", "runc", "husk"]
events_logger = "file"
cgroup_manager = "cgroupfs"
CONF
    t skopeo copy --quiet "oci:$ENG_DIR/image/busybox:latest" \
        "containers-storage:[overlay@$ENG_DIR/podman/root+$ENG_DIR/podman/run]$IMG_E" ||
        return 1
    (set -e; . "$E2E/lib.sh"; . "$E2E/ctr.sh"; containerd_start
        t skopeo copy --quiet "oci:$ENG_DIR/image/busybox:latest" "docker-archive:$CD_DIR/busybox.tar:$IMG_E"
        t skopeo copy --quiet "oci:$ENG_DIR/image/busybox:pause" "docker-archive:$CD_DIR/pause.tar:$CPAUSE"
        for ns in default k8s.io; do
            cctr -n "$ns" images import "$CD_DIR/busybox.tar"
            cctr -n "$ns" images import "$CD_DIR/pause.tar"
        done) >>"$E2E_RESULTS/setup.log" 2>&1 || { tail "$E2E_RESULTS/setup.log" >&2; return 1; }
    (set -e; . "$E2E/lib.sh"; . "$E2E/docker.sh"; docker_setup) >>"$E2E_RESULTS/setup.log" 2>&1 ||
        { tail "$E2E_RESULTS/setup.log" >&2; return 1; }
}

engines_cleanup() {
    [ -n "${TMP:-}" ] && [ -d "$TMP/eng" ] || return 0
    engines_env
    (. "$E2E/lib.sh"; . "$E2E/docker.sh"; docker_cleanup) >>"$E2E_RESULTS/cleanup.log" 2>&1 || true
    (. "$E2E/lib.sh"; . "$E2E/ctr.sh"; ctr_cleanup) >>"$E2E_RESULTS/cleanup.log" 2>&1 || true
    local rt
    for rt in $RUNTIMES; do pm_e "$rt" rm -fa -t 0 >/dev/null 2>&1 || true; done
    { grep -o " $ENG_DIR[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m"; done
    rmdir /sys/fs/cgroup/*/libpod_parent/*/ /sys/fs/cgroup/*/libpod_parent 2>/dev/null || true
    rmdir /run/containerd/runc/* /run/containerd/runc /run/containerd/fifo /run/containerd/s /run/containerd 2>/dev/null || true
}

IMG_E=localhost/husk-busybox:latest
pm_e() { # pm_e RUNTIME ARGS...
    local rt=$1
    shift
    t podman --root "$ENG_DIR/podman/root" --runroot "$ENG_DIR/podman/run" --storage-driver overlay \
        --cgroup-manager cgroupfs --events-backend file --tmpdir "$ENG_DIR/podman/tmp" \
        --runtime "${BIN[$rt]}" "$@"
}

# eng_once ENGINE RUNTIME ROUND: one timed run; the sample, or a failure.
eng_once() {
    local e=$1 rt=$2 r=$3 t0 t1 us
    case $e in
        cri)
            if us=$(t /usr/bin/python3 "$E2E/cri_client.py" "$ENG_DIR/containerd/containerd.sock" "$rt" \
                "$ENG_DIR/cri-logs" cycle 2>"$TMP/cmd.log"); then
                rec eng.cri "$rt" "$r" "${us#us=}" us
            else
                fail eng.cri "$rt"
            fi
            return
            ;;
    esac
    t0=${EPOCHREALTIME/[.,]/}
    if case $e in
        podman) pm_e "$rt" run --rm "$IMG_E" true ;;
        ctr) t ctr --address "$ENG_DIR/containerd/containerd.sock" run --runc-binary "${BIN[$rt]}" --rm \
            "$IMG_E" "bench-$rt-$r" true ;;
        docker) t /usr/bin/docker --host "unix://$ENG_DIR/docker/docker.sock" run --runtime "$rt" --rm "$IMG_E" true ;;
    esac </dev/null >"$TMP/cmd.log" 2>&1; then
        t1=${EPOCHREALTIME/[.,]/}
        rec "eng.$e" "$rt" "$r" $((t1 - t0)) us
    else
        fail "eng.$e" "$rt"
    fi
}

engines_bench() {
    log "engines: setting up podman, containerd (ctr, CRI) and dockerd"
    if ! engines_setup; then
        log "engines: setup failed (see $OUT/engines/); no engine figures"
        echo "engines setup failed" >>"$OUT/errors.log"
        return 0
    fi
    local e r rt
    for e in podman ctr cri docker; do
        # one untimed run each: the first pulls the engine's caches in
        for rt in $RUNTIMES; do eng_once "$e" "$rt" warm; done
        sed -i "/^eng\.$e,[^,]*,warm,/d" "$OUT/samples.csv"
    done
    log "engines: $N_ENG rounds of podman, ctr, CRI and docker"
    for ((r = 0; r < N_ENG; r++)); do
        for e in podman ctr cri docker; do
            for rt in $(order "$r"); do eng_once "$e" "$rt" "$r"; done
        done
    done
    engines_cleanup
}
