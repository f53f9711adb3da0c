#!/usr/bin/env bash
# hack/layout/gen.sh: traces which functions husk's commands run and gathers
# them at the start of the code (crates/husk/hot-text.ld). See README.md here.
#
#   make layout         # trace, write crates/husk/hot-text.ld, rebuild, report
#   make layout-check   # trace the current build; fail when a lifecycle
#                       # command runs more than LAYOUT_MAX_COLD KiB (default
#                       # 32) of code outside the hot section
#
# As root (it runs real containers). Needs gcc, python3, readelf, busybox-static
# (hack/deps.sh installs them).
set -euo pipefail
export LC_ALL=C

mode=${1:-gen}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
husk=$target/release/husk
script=$repo/crates/husk/hot-text.ld
max_cold=${LAYOUT_MAX_COLD:-32}

log() { printf 'layout: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
[ "$(id -u)" -eq 0 ] || die "run as root (it traces real containers)"

work=$(mktemp -d /tmp/husk-layout.XXXXXX)
root=$work/state
cleanup() {
    local id
    for id in lay-main lay-run; do
        "$husk" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# Builds husk and finds its link map. Other links of the husk bin (cargo test
# --release) write the same map file, so the map is removed and the bin is
# relinked here.
build() {
    rm -f "$target"/release/build/husk-*/out/husk.map
    touch "$repo/crates/husk/build.rs"
    (cd "$repo" && cargo build --release -p husk)
    map=$(ls -t "$target"/release/build/husk-*/out/husk.map 2>/dev/null | head -1)
    [ -n "$map" ] || die "no link map under $target/release/build (crates/husk/build.rs writes it)"
}

tracer=$target/layout/tracetext
mkdir -p "$target/layout"
if [ ! -x "$tracer" ] || [ "$here/tracetext.c" -nt "$tracer" ]; then
    gcc -O2 -Wall -Werror -o "$tracer" "$here/tracetext.c"
fi

build
python3 "$here/order.py" entries "$map" "$husk" "$work/entries"

# trace NAME CMD...: one traced husk command; its functions go to NAME.trace.
trace() {
    local name=$1
    shift
    "$tracer" "$work/$name.trace" "$husk" "$work/entries" -- "$husk" --root "$root" "$@"
}

HUSK=$husk "$repo/hack/mkbundle.sh" "$work/bundle" sleep 300 >/dev/null
HUSK=$husk "$repo/hack/mkbundle.sh" "$work/bundle-run" true >/dev/null

# create stays traced in the background: its init runs until start execs the
# payload, so the init's side of start is recorded in create's trace.
trace create create --bundle "$work/bundle" lay-main >/dev/null &
create_pid=$!
for _ in $(seq 200); do
    "$husk" --root "$root" state lay-main 2>/dev/null | grep -q '"created"' && break
    sleep 0.05
done
trace state state lay-main >/dev/null
trace start start lay-main
wait "$create_pid" || die "traced create failed"
trace exec exec lay-main true
trace ps ps lay-main >/dev/null
trace list list >/dev/null
trace pause pause lay-main
trace resume resume lay-main
trace events events --stats lay-main >/dev/null
trace update update --pids-limit 100 lay-main
trace kill kill lay-main KILL
for _ in $(seq 200); do
    "$husk" --root "$root" state lay-main 2>/dev/null | grep -q '"stopped"' && break
    sleep 0.05
done
trace delete delete lay-main
(cd "$work/bundle-run" && trace run run lay-run >/dev/null)
trace version --version >/dev/null

# Priority: what every command runs first (state's path is the common core),
# then the lifecycle commands the engines call on every container, then the rest.
lifecycle=(state start kill delete create run exec)
others=(ps list pause resume events update version)
traces=()
for t in "${lifecycle[@]}" "${others[@]}"; do traces+=("$work/$t.trace"); done

case $mode in
    gen)
        python3 "$here/order.py" script "$map" "$husk" "$script" "${traces[@]}"
        build
        log "rebuilt with the new layout; checking it"
        cleanup
        trap - EXIT
        exec "$0" check
        ;;
    check)
        checked=()
        for t in state start kill delete create run; do checked+=("$work/$t.trace"); done
        python3 "$here/order.py" check "$map" "$husk" --max-cold "$max_cold" "${checked[@]}"
        ;;
    *) die "unknown mode '$mode' (gen | check)" ;;
esac
