# Checkpoint/restore through podman (sourced by run.sh inside each
# scenario's bash). CRIU must work on the kernel: `make e2e-criu` runs this
# group in the cgroup-v2 VM (hack/vm), whose kernel `criu check` accepts.
# shellcheck source=podman.sh
. "$E2E/podman.sh"

criu_setup() {
    criu check >/dev/null 2>&1 || { echo "criu check fails on this kernel: run make e2e-criu (the VM)"; return 1; }
    podman_setup
}

criu_cleanup() { podman_cleanup; }

# podman container checkpoint + restore of a running container: the
# counter in its memory goes on from where it was.
p_checkpoint_restore() {
    local c=$N-cr a b
    pm rm -f -t 0 "$c" >/dev/null 2>&1 || true
    pm run -d --name "$c" "$IMG" sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/n.t; mv /tmp/n.t /tmp/n; sleep 0.1; done'
    sleep 1
    capture out rc pm container checkpoint "$c"
    expect_eq "checkpoint" 0 "$rc"
    capture out rc pm inspect -f '{{.State.Status}}' "$c"
    expect_eq "state after checkpoint" exited "$out"
    capture out rc pm container restore "$c"
    expect_eq "restore" 0 "$rc"
    capture out rc pm inspect -f '{{.State.Status}}' "$c"
    expect_eq "state after restore" running "$out"
    capture a rc pm exec "$c" cat /tmp/n
    expect_match "counter restored (not restarted)" '^[0-9]+$' "$a"
    [ "$a" -gt 5 ] || fail "counter restarted after restore: $a"
    sleep 1
    capture b rc pm exec "$c" cat /tmp/n
    [ "$b" -gt "$a" ] || fail "counter did not go on after restore ($a -> $b)"
    # --leave-running, then an export restored as a new container
    capture out rc pm container checkpoint --leave-running --export "$E2E_TMP/cr-$RT.tar.gz" "$c"
    expect_eq "checkpoint --leave-running --export" 0 "$rc"
    capture out rc pm inspect -f '{{.State.Status}}' "$c"
    expect_eq "still running" running "$out"
    capture out rc pm container restore --import "$E2E_TMP/cr-$RT.tar.gz" --name "$c-2"
    expect_eq "restore --import --name" 0 "$rc"
    capture out rc pm exec "$c-2" cat /tmp/n
    expect_match "imported counter" '^[0-9]+$' "$out"
    pm rm -f -t 0 "$c" "$c-2"
}
