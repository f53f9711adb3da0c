#!/usr/bin/env bash
# Runs a real container end to end from a busybox bundle made in a
# temporary directory: `run`, then create/start/state/kill/delete.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
husk=${HUSK:-$here/target/release/husk}
work=$(mktemp -d /tmp/husk-demo.XXXXXX)
root=$work/state
id=husk-demo-$$

cleanup() {
    "$husk" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

HUSK=$husk "$here/hack/mkbundle.sh" "$work/bundle" sh -c 'echo "hello from $(hostname), pid $$"; exit 7' >/dev/null
cd "$work/bundle"

echo "husk: $husk"
step "$husk" --version
set +e
step "$husk" --root "$root" run "$id"
code=$?
set -e
echo "(exit status $code: the container's own, propagated)"
[ "$code" -eq 7 ] || { echo "demo: expected exit status 7" >&2; exit 1; }

jq '.process.args = ["sleep", "300"]' config.json >config.json.new && mv config.json.new config.json
step "$husk" --root "$root" create --bundle "$work/bundle" --pid-file "$work/pid" "$id"
echo "pid file: $(cat "$work/pid")"
step "$husk" --root "$root" state "$id"
step "$husk" --root "$root" start "$id"
step "$husk" --root "$root" list
step "$husk" --root "$root" state "$id"
step "$husk" --root "$root" kill "$id" KILL
for _ in $(seq 100); do
    [ "$("$husk" --root "$root" state "$id" | jq -r .status)" = stopped ] && break
    sleep 0.05
done
step "$husk" --root "$root" state "$id"
step "$husk" --root "$root" delete "$id"
if "$husk" --root "$root" state "$id" 2>/dev/null; then
    echo "demo: container still exists after delete" >&2
    exit 1
fi
echo
echo "demo: done; nothing left behind"
