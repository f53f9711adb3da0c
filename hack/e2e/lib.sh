# Shared helpers for the e2e scenarios (sourced). Every scenario runs in its own
# `bash -e` with a time limit; these are the assertions it uses.

# Run an engine command with a time limit (60 s unless T_LIMIT says otherwise).
t() { timeout -k 5 "${T_LIMIT:-60}" "$@"; }

log() { printf '+ %s\n' "$*" >&2; }

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
    if [ "$2" != "$3" ]; then fail "$1: expected [$2], got [$3]"; fi
    printf 'ok: %s = [%s]\n' "$1" "$3" >&2
}

# expect_match WHAT REGEX ACTUAL
expect_match() {
    if ! printf '%s' "$3" | grep -Eq -- "$2"; then fail "$1: [$3] does not match /$2/"; fi
    printf 'ok: %s =~ /%s/\n' "$1" "$2" >&2
}

expect_nomatch() {
    if printf '%s' "$3" | grep -Eq -- "$2"; then fail "$1: [$3] matches /$2/"; fi
    printf 'ok: %s !~ /%s/\n' "$1" "$2" >&2
}

# capture VAR RC_VAR cmd...: runs cmd, stdout+stderr into VAR, status into RC_VAR.
capture() {
    local __out __rc=0 __v=$1 __r=$2
    shift 2
    log "$*"
    __out=$("$@" 2>&1) || __rc=$?
    printf '%s\n[exit %s]\n' "$__out" "$__rc" >&2
    printf -v "$__v" '%s' "$__out"
    printf -v "$__r" '%s' "$__rc"
}

# wait_for SECONDS cmd...: retries cmd every 0.5 s until it succeeds.
wait_for() {
    local n=$(( $1 * 2 ))
    shift
    while [ "$n" -gt 0 ]; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.5
        n=$((n - 1))
    done
    fail "timed out waiting for: $*"
}

# cgroup_file CONTROLLER V1FILE V2FILE: the path of a limit file as seen inside a
# container (its /sys/fs/cgroup), v1 or v2 layout.
cgroup_read_cmd() {
    # Prints a shell snippet that reads a v1 file or else the v2 one.
    printf 'if [ -e /sys/fs/cgroup/%s/%s ]; then cat /sys/fs/cgroup/%s/%s; else cat /sys/fs/cgroup/%s; fi' "$1" "$2" "$1" "$2" "$3"
}

# log_since LOG T0: the error and warning lines of an engine's logrus LOG
# (time="…") since the epoch second T0, for a failed scenario's post-mortem.
log_since() {
    local since
    since=$(date -u -d "@$2" +%Y-%m-%dT%H:%M:%S)
    awk -v s="$since" 'match($0, /time="[^"]+"/) { ts = substr($0, RSTART+6, 19); if (ts >= s) print }' \
        "$1" | grep -E 'level=(error|warning)' | tail -40
}
