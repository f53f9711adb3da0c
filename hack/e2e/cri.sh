# CRI scenario: containerd's CRI plugin with a RuntimeClass handler (husk or
# runc, both io.containerd.runc.v2 with BinaryName) driven by cri_client.py.
# shellcheck source=ctr.sh
. "$E2E/ctr.sh"

cri_setup() { ctr_setup; }

cri_postmortem() { ctr_postmortem "$@"; }

cri_pod_and_container() {
    local handler=$RT
    # a watcher records which binary the shim calls (husk's state dir appears
    # under the shim's root only when husk created the container)
    capture out rc t /usr/bin/python3 "$E2E/cri_client.py" "$CD_SOCK" "$handler" "$E2E_TMP/cri-logs-$RT"
    expect_eq "cri client" 0 "$rc"
    # containerd dropped everything: no task dirs or shim state left
    local left
    left=$(ls "$SHIM_ROOT/k8s.io" 2>/dev/null | tr '\n' ' ')
    [ -z "$left" ] || fail "runtime state left under $SHIM_ROOT/k8s.io: $left"
}
