#!/usr/bin/env bash
# hack/bench/bench.sh: husk against runc and crun, in one run, on one machine,
# with one busybox bundle. See hack/bench/README.md.
#
#   make bench                         # full run, results in hack/bench/results/<date>/
#   BENCH_QUICK=1 make bench           # smoke run: few iterations
#   RUNTIMES="husk runc" make bench    # choose the runtimes (default: husk runc crun)
#
# Other knobs: HUSK (path of the husk binary, default target/release/husk),
# BENCH_OUT (results directory), BENCH_HIDE_CGROUP2 (umount | tmpfs, see README),
# BENCH_STRACE (1 = strace -f -c profile of S1 per runtime; default 1),
# BENCH_ENGINES (1 = the engine section, hack/bench/engines.sh; default 1;
# 0 skips it; "only" runs nothing else).
#
# Structure: the outer stage installs packages, makes a temp dir and re-executes
# this script (stage "inner") in a private mount namespace where the hybrid
# cgroup2 mount is hidden; the inner stage measures and writes samples.csv; the
# outer stage then runs report.py and cleans up (trap: containers, cgroups, temp dir).
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")

RUNTIMES=${RUNTIMES:-husk runc crun}
HUSK=${HUSK:-$repo/target/release/husk}
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] || [ "$QUICK" = "" ] && QUICK=0 || QUICK=1
HIDE=${BENCH_HIDE_CGROUP2:-umount}
STRACE=${BENCH_STRACE:-1}
ENGINES=${BENCH_ENGINES:-1}

# Iterations. Every timed loop alternates the runtimes inside each round and
# rotates their order from one round to the next.
if [ "$QUICK" = 1 ]; then
    N_LIFE=5 N_SEQ=10 N_SEQ_REPS=1 N_CMD=20 N_RSS=2 N_ENG=2
else
    N_LIFE=100 N_SEQ=100 N_SEQ_REPS=10 N_CMD=300 N_RSS=10 N_ENG=20
fi
MEM_STEP=16384 MEM_LO_STEPS=4 MEM_HI_STEPS=1024 # 64 KiB .. 16 MiB in 16 KiB steps

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

bin_of() {
    case $1 in
        husk) echo "$HUSK" ;;
        *) command -v "$1" || true ;;
    esac
}

# Kills what is left in our cgroups and removes them (deepest first). Only the
# bench-<runtime> trees of the runtimes we run are touched.
clean_cgroups() {
    local rt d p
    for rt in $RUNTIMES; do
        for d in /sys/fs/cgroup/*/"bench-$rt"; do
            [ -d "$d" ] || continue
            while IFS= read -r p; do
                kill -9 "$p" 2>/dev/null || true
            done < <(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)
            find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        done
    done
}

###############################################################################
# Outer stage
###############################################################################
outer() {
    [ "$(id -u)" -eq 0 ] || die "run as root (containers, cgroups, mount namespaces)"
    local pkgs=(busybox-static jq time gnuplot-nox strace binutils file linux-perf) missing=() p rt
    for rt in $RUNTIMES; do
        case $rt in
            husk) ;;
            runc | crun) pkgs+=("$rt") ;;
            *) die "unknown runtime '$rt' (husk, runc, crun)" ;;
        esac
    done
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
            apt-get update -q >/dev/null
            apt-get install -y -q "${missing[@]}" >/dev/null
        }
    fi
    for rt in $RUNTIMES; do
        [ -x "$(bin_of "$rt")" ] || die "$rt: binary not found ($(bin_of "$rt")); for husk run 'make build'"
    done
    if [ "$ENGINES" != 0 ]; then
        "$repo/hack/e2e/deps.sh" >&2 || die "installing the engines failed (BENCH_ENGINES=0 skips them)"
    fi

    # One bench at a time on this machine: two would disturb each other's timings.
    exec 9>/run/husk-bench.lock
    flock -n 9 || die "another bench is running (/run/husk-bench.lock)"

    local stamp out
    stamp=$(date +%Y-%m-%d-%H%M%S)
    if [ "$QUICK" = 1 ]; then stamp=$stamp-quick; fi
    out=${BENCH_OUT:-$here/results/$stamp}
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    TMP=$(mktemp -d /tmp/husk-bench.XXXXXX)
    trap outer_cleanup EXIT
    trap 'exit 130' INT TERM HUP

    # Bench a private copy of husk: others may rebuild target/release meanwhile.
    # (Same bytes, so size, `file` and NEEDED are those of $HUSK.)
    case " $RUNTIMES " in
        *" husk "*)
            mkdir -p "$TMP/bin"
            cp "$HUSK" "$TMP/bin/husk"
            HUSK_SRC=$(readlink -f "$HUSK") HUSK=$TMP/bin/husk
            ;;
    esac
    log "runtimes: $RUNTIMES; quick=$QUICK; results: $out; temp: $TMP"
    # A private mount namespace for every runtime alike (see README).
    BENCH_STAGE=inner BENCH_TMP=$TMP BENCH_OUTDIR=$out RUNTIMES=$RUNTIMES HUSK=$HUSK \
        BENCH_QUICK=$QUICK BENCH_HIDE_CGROUP2=$HIDE BENCH_STRACE=$STRACE HUSK_SRC=${HUSK_SRC:-} \
        BENCH_ENGINES=$ENGINES \
        unshare -m --propagation private "$self"

    python3 "$here/report.py" "$out"
    if [ "$QUICK" = 0 ] && [ -z "${BENCH_OUT:-}" ]; then
        ln -sfn "$stamp" "$here/results/latest"
        log "results: $out (hack/bench/results/latest -> $stamp)"
    else
        log "results: $out"
    fi
    cat "$out/table.md"
}

outer_cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    clean_cgroups
    if [ -n "${TMP:-}" ] && [ -d "$TMP" ]; then
        # The namespace (and its mounts) is gone with its last process; make
        # sure nothing of ours is still mounted below the temp dir anyway.
        { grep -o " $TMP[^ ]*" /proc/self/mountinfo 2>/dev/null || true; } | sort -r | while read -r m; do
            umount -l "$m" 2>/dev/null || true
        done
        rm -rf --one-file-system "$TMP"
    fi
    if [ -n "$(ls -d /sys/fs/cgroup/*/bench-husk /sys/fs/cgroup/*/bench-runc /sys/fs/cgroup/*/bench-crun 2>/dev/null)" ]; then
        log "warning: cgroup directories left over:"
        ls -d /sys/fs/cgroup/*/bench-* >&2 || true
    fi
    exit "$rc"
}

###############################################################################
# Inner stage (private mount namespace)
###############################################################################
declare -A BIN FAIL

rtc() { # rtc RUNTIME ARGS...: the runtime with its own --root
    local rt=$1
    shift
    "${BIN[$rt]}" --root "$TMP/root-$rt" "$@"
}

# rec METRIC RUNTIME ROUND VALUE UNIT
rec() { printf '%s,%s,%s,%s,%s\n' "$1" "$2" "$3" "$4" "$5" >>"$OUT/samples.csv"; }

fail() { # fail METRIC RUNTIME: count a failed iteration and show why
    FAIL["$1,$2"]=$((${FAIL["$1,$2"]:-0} + 1))
    log "$2: $1 failed (see $OUT/errors.log)"
    { echo "== $2 $1"; tail -n 5 "$TMP/cmd.log"; } >>"$OUT/errors.log"
}

# order ROUND: the runtimes rotated by ROUND, so that none is always first.
order() {
    local -a a=($RUNTIMES)
    local n=${#a[@]} i
    for ((i = 0; i < n; i++)); do printf '%s ' "${a[$(((i + $1) % n))]}"; done
}

# mkb RUNTIME NAME MEMLIMIT ARGS...: a bundle dir for RUNTIME whose config
# differs from the base one only in cgroupsPath, args and the memory limit.
mkb() {
    local rt=$1 name=$2 mem=$3
    shift 3
    local d=$TMP/b/$rt-$name args
    mkdir -p "$d"
    args=$(for a in "$@"; do jq -n --arg a "$a" '$a'; done | jq -cs .)
    jq --argjson args "$args" --arg cg "/bench-$rt/$name" --arg mem "$mem" '
        .process.args = $args
        | .linux.cgroupsPath = $cg
        | if $mem != "" then .linux.resources.memory.limit = ($mem | tonumber) else . end
    ' "$TMP/base.json" >"$d/config.json"
    echo "$d"
}

sure_gone() { # delete a container whatever its state, ignoring errors
    rtc "$1" delete --force "$2" >/dev/null 2>&1 || true
}

inner_cleanup() {
    local rc=$? rt id
    trap - EXIT INT TERM HUP
    engines_cleanup
    for rt in $RUNTIMES; do
        [ -d "$TMP/root-$rt" ] || continue
        for id in $(rtc "$rt" list -q 2>/dev/null); do
            rtc "$rt" delete --force "$id" >/dev/null 2>&1 || true
        done
    done
    clean_cgroups
    if [ "$HIDE" != none ]; then umount /sys/fs/cgroup/unified 2>/dev/null || true; fi
    exit "$rc"
}

inner() {
    TMP=$BENCH_TMP OUT=$BENCH_OUTDIR
    trap inner_cleanup EXIT
    trap 'exit 130' INT TERM HUP
    local rt r i id b t0 t1 t2 t3

    # crun 1.8.1 refuses hybrid hosts ("cgroups in hybrid mode not supported"):
    # hide the cgroup2 mount at /sys/fs/cgroup/unified, for every runtime alike.
    # Default: unmount it, then mount an empty tmpfs there. The unmount keeps it
    # out of /proc/self/mountinfo (husk reads its cgroup mounts from there); the
    # tmpfs catches what crun still writes below /sys/fs/cgroup/unified (it
    # creates <path>/cgroup.procs files there), which would otherwise land on the
    # host's /sys/fs/cgroup tmpfs, hidden under the real cgroup2 mount.
    if mountpoint -q /sys/fs/cgroup/unified; then
        case $HIDE in
            umount)
                umount /sys/fs/cgroup/unified
                mount -t tmpfs -o size=1m,mode=755 bench-empty /sys/fs/cgroup/unified
                ;;
            tmpfs) mount -t tmpfs -o size=1m,mode=755 bench-empty /sys/fs/cgroup/unified ;;
            none) ;;
            *) die "BENCH_HIDE_CGROUP2: umount, tmpfs or none" ;;
        esac
    fi

    for rt in $RUNTIMES; do
        BIN[$rt]=$(bin_of "$rt")
        mkdir -p "$TMP/root-$rt"
    done
    : >"$OUT/samples.csv"
    : >"$OUT/errors.log"

    # The bundle: one busybox rootfs shared by every runtime (absolute root.path).
    HUSK=${BIN[husk]:-$HUSK} "$repo/hack/mkbundle.sh" "$TMP/bundle" true >/dev/null 2>"$TMP/cmd.log" ||
        { cat "$TMP/cmd.log" >&2; die "mkbundle.sh failed"; }
    jq --arg root "$TMP/bundle/rootfs" '
        .ociVersion = "1.0.2" | .process.terminal = false | .root.path = $root
    ' "$TMP/bundle/config.json" >"$TMP/base.json"
    cp "$TMP/base.json" "$OUT/config.json"

    # Smoke: each runtime runs `true` here (crun only works with cgroup2 hidden).
    for rt in $RUNTIMES; do
        b=$(mkb "$rt" smoke "" true)
        if ! (cd "$b" && rtc "$rt" run smoke) >"$TMP/cmd.log" 2>&1; then
            cat "$TMP/cmd.log" >&2
            die "$rt cannot run the busybox bundle in this namespace (BENCH_HIDE_CGROUP2=$HIDE)"
        fi
        log "$rt: run true works ($("${BIN[$rt]}" --version | sed -n 1p))"
    done

    if [ "$ENGINES" = only ]; then
        engines_bench
        write_meta
        return
    fi

    for rt in $RUNTIMES; do
        mkb "$rt" s1 "" true >/dev/null
        mkb "$rt" s2 "" sleep 3600 >/dev/null
        mkb "$rt" s3 "" sleep 0.03 >/dev/null
        mkb "$rt" seq "" true >/dev/null
        mkb "$rt" st "" true >/dev/null
    done

    # S1 and S2: create + start + delete --force (each phase timed too).
    local s
    for s in s1 s2; do
        log "${s^^}: $N_LIFE rounds"
        for ((r = 0; r < N_LIFE; r++)); do
            for rt in $(order "$r"); do
                id=$s-$r b=$TMP/b/$rt-$s
                t0=${EPOCHREALTIME/[.,]/}
                if ! rtc "$rt" create --bundle "$b" "$id" >"$TMP/cmd.log" 2>&1; then
                    fail "$s" "$rt"; sure_gone "$rt" "$id"; continue
                fi
                t1=${EPOCHREALTIME/[.,]/}
                if ! rtc "$rt" start "$id" >>"$TMP/cmd.log" 2>&1; then
                    fail "$s" "$rt"; sure_gone "$rt" "$id"; continue
                fi
                t2=${EPOCHREALTIME/[.,]/}
                if ! rtc "$rt" delete --force "$id" >>"$TMP/cmd.log" 2>&1; then
                    fail "$s" "$rt"; sure_gone "$rt" "$id"; continue
                fi
                t3=${EPOCHREALTIME/[.,]/}
                rec "$s" "$rt" "$r" $((t3 - t0)) us
                rec "$s.create" "$rt" "$r" $((t1 - t0)) us
                rec "$s.start" "$rt" "$r" $((t2 - t1)) us
                rec "$s.delete" "$rt" "$r" $((t3 - t2)) us
                # Not timed: delete --force must have removed the container.
                if rtc "$rt" state "$id" >/dev/null 2>&1; then
                    echo "== $rt $s: $id still exists after delete --force" >>"$OUT/errors.log"
                    sure_gone "$rt" "$id"
                fi
            done
        done
    done

    log "S3: run (sleep 0.03), $N_LIFE rounds"
    for ((r = 0; r < N_LIFE; r++)); do
        for rt in $(order "$r"); do
            id=s3-$r
            t0=${EPOCHREALTIME/[.,]/}
            if rtc "$rt" run --bundle "$TMP/b/$rt-s3" "$id" </dev/null >"$TMP/cmd.log" 2>&1; then
                t1=${EPOCHREALTIME/[.,]/}
                rec s3 "$rt" "$r" $((t1 - t0)) us
            else
                fail s3 "$rt"
            fi
            sure_gone "$rt" "$id"
        done
    done

    log "${N_SEQ}x run true: $N_SEQ_REPS repetitions"
    local ok
    for ((r = 0; r < N_SEQ_REPS; r++)); do
        for rt in $(order "$r"); do
            ok=1
            t0=${EPOCHREALTIME/[.,]/}
            for ((i = 0; i < N_SEQ; i++)); do
                rtc "$rt" run --bundle "$TMP/b/$rt-seq" "seq-$r-$i" </dev/null >"$TMP/cmd.log" 2>&1 || { ok=0; break; }
            done
            t1=${EPOCHREALTIME/[.,]/}
            if [ "$ok" = 1 ]; then rec seq "$rt" "$r" $((t1 - t0)) us; else fail seq "$rt"; sure_gone "$rt" "seq-$r-$i"; fi
        done
    done

    log "state (of a created container) and --version: $N_CMD rounds"
    for rt in $RUNTIMES; do
        rtc "$rt" create --bundle "$TMP/b/$rt-st" st >"$TMP/cmd.log" 2>&1 || { fail state "$rt"; }
        # What the created container has been charged so far (cgroup v1 memory
        # controller): its init and whatever the runtime did after joining.
        local mcg=/sys/fs/cgroup/memory/bench-$rt/st
        if [ -r "$mcg/memory.usage_in_bytes" ]; then
            rec cg.mem "$rt" 0 "$(cat "$mcg/memory.usage_in_bytes")" bytes
            [ -r "$mcg/memory.kmem.usage_in_bytes" ] && rec cg.kmem "$rt" 0 "$(cat "$mcg/memory.kmem.usage_in_bytes")" bytes
        fi
    done
    for ((r = 0; r < N_CMD; r++)); do
        for rt in $(order "$r"); do
            t0=${EPOCHREALTIME/[.,]/}
            if rtc "$rt" state st >"$TMP/cmd.log" 2>&1; then
                t1=${EPOCHREALTIME/[.,]/}
                rec state "$rt" "$r" $((t1 - t0)) us
            else
                fail state "$rt"
            fi
        done
        for rt in $(order "$r"); do
            t0=${EPOCHREALTIME/[.,]/}
            "${BIN[$rt]}" --version >/dev/null 2>&1
            t1=${EPOCHREALTIME/[.,]/}
            rec version "$rt" "$r" $((t1 - t0)) us
        done
    done
    for rt in $RUNTIMES; do sure_gone "$rt" st; done

    # Peak RSS of each command of S1, with GNU time: %M is the largest resident
    # set of the command and of the children it waited for. Then the CPU time
    # (perf stat task-clock, children it forked included) of the same commands.
    log "peak RSS and CPU time of create / state / start / delete: $N_RSS rounds"
    local cmd f kib
    s1_args() { # s1_args CMD RUNTIME ID: sets "$@" for one command of S1
        case $1 in
            create) S1_ARGS=(create --bundle "$TMP/b/$2-s1" "$3") ;;
            state) S1_ARGS=(state "$3") ;;
            start) S1_ARGS=(start "$3") ;;
            delete) S1_ARGS=(delete --force "$3") ;;
        esac
    }
    f=$TMP/measure.out
    for ((r = 0; r < N_RSS; r++)); do
        for rt in $(order "$r"); do
            id=rss-$r
            for cmd in create state start delete; do
                s1_args "$cmd" "$rt" "$id"
                if /usr/bin/time -f '%M' -o "$f" "${BIN[$rt]}" --root "$TMP/root-$rt" "${S1_ARGS[@]}" \
                    </dev/null >"$TMP/cmd.log" 2>&1; then
                    read -r kib <"$f"
                    rec "rss.$cmd" "$rt" "$r" "$kib" KiB
                else
                    fail "rss.$cmd" "$rt"
                fi
            done
            sure_gone "$rt" "$id"
            if command -v perf >/dev/null; then
                id=cpu-$r
                for cmd in create state start delete; do
                    s1_args "$cmd" "$rt" "$id"
                    if perf stat -x, -e task-clock -o "$f" -- "${BIN[$rt]}" --root "$TMP/root-$rt" "${S1_ARGS[@]}" \
                        </dev/null >"$TMP/cmd.log" 2>&1; then
                        # task-clock in msec -> us
                        rec "cpu.$cmd" "$rt" "$r" "$(awk -F, '$3 ~ /task-clock/ {printf "%d", $1 * 1000}' "$f")" us
                    else
                        fail "cpu.$cmd" "$rt"
                    fi
                done
                sure_gone "$rt" "$id"
            fi
        done
    done

    # Memory floor: the smallest linux.resources.memory.limit (a multiple of
    # 16 KiB in 64 KiB..16 MiB) with which `run true` exits 0. Bisection,
    # assuming that a limit that works keeps working when raised.
    log "memory floor: bisection in 16 KiB steps"
    local lo hi mid n
    mem_ok() { # mem_ok RUNTIME STEPS
        local bb idm=mem-$2
        bb=$(mkb "$1" mem $(($2 * MEM_STEP)) true)
        if timeout -k 5 30 "${BIN[$1]}" --root "$TMP/root-$1" run --bundle "$bb" "$idm" </dev/null >"$TMP/cmd.log" 2>&1; then
            echo "$1 $(($2 * MEM_STEP)) ok" >>"$OUT/memfloor.log"
            sure_gone "$1" "$idm"
            return 0
        fi
        echo "$1 $(($2 * MEM_STEP)) fail: $(tail -n 1 "$TMP/cmd.log")" >>"$OUT/memfloor.log"
        sure_gone "$1" "$idm"
        return 1
    }
    : >"$OUT/memfloor.log"
    for rt in $RUNTIMES; do
        if ! mem_ok "$rt" "$MEM_HI_STEPS"; then
            rec memfloor "$rt" 0 -1 bytes # more than 16 MiB
            continue
        fi
        if mem_ok "$rt" "$MEM_LO_STEPS"; then
            rec memfloor "$rt" 0 $((MEM_LO_STEPS * MEM_STEP)) bytes
            continue
        fi
        lo=$MEM_LO_STEPS hi=$MEM_HI_STEPS # lo fails, hi works
        while ((hi - lo > 1)); do
            mid=$(((lo + hi) / 2))
            if mem_ok "$rt" "$mid"; then hi=$mid; else lo=$mid; fi
        done
        rec memfloor "$rt" 0 $((hi * MEM_STEP)) bytes
        log "$rt: memory floor $((hi * MEM_STEP / 1024)) KiB"
    done

    # Binaries: size as installed, stripped size, linkage.
    local path size ssize
    for rt in $RUNTIMES; do
        path=$(readlink -f "${BIN[$rt]}")
        size=$(stat -c %s "$path")
        strip -o "$TMP/stripped" "$path" 2>/dev/null && ssize=$(stat -c %s "$TMP/stripped") || ssize=$size
        rec size "$rt" 0 "$size" bytes
        rec size.stripped "$rt" 0 "$ssize" bytes
        jq -n --arg rt "$rt" --arg path "$(if [ "$rt" = husk ] && [ -n "${HUSK_SRC:-}" ]; then echo "$HUSK_SRC"; else echo "$path"; fi)" \
            --arg sha256 "$(sha256sum "$path" | cut -c1-16)" --arg file "$(file -b "$path")" \
            --arg version "$("${BIN[$rt]}" --version 2>&1 | sed -n 1p)" \
            --argjson needed "$(objdump -p "$path" 2>/dev/null | awk '$1=="NEEDED"{print $2}' | jq -R . | jq -cs .)" \
            '{runtime:$rt, path:$path, sha256_16:$sha256, file:$file, version:$version, needed:$needed}'
    done | jq -s . >"$OUT/binaries.json"

    # A syscall profile of S1 per runtime (not timed; strace slows everything).
    if [ "$STRACE" = 1 ] && command -v strace >/dev/null; then
        log "strace -f -c of S1 per runtime"
        for rt in $RUNTIMES; do
            timeout -k 5 60 strace -f -c -S calls -o "$OUT/strace-s1-$rt.txt" \
                sh -c '"$1" --root "$2" create --bundle "$3" strace-s1 && "$1" --root "$2" start strace-s1 &&
                       "$1" --root "$2" delete --force strace-s1' \
                sh "${BIN[$rt]}" "$TMP/root-$rt" "$TMP/b/$rt-s1" </dev/null >"$TMP/cmd.log" 2>&1 ||
                fail strace "$rt"
            sure_gone "$rt" strace-s1
        done
    fi

    if [ "$ENGINES" != 0 ]; then engines_bench; fi
    write_meta
}

write_meta() { # run parameters and failures, for report.py
    local k
    [ -f "$OUT/binaries.json" ] || echo '[]' >"$OUT/binaries.json"
    {
        for k in "${!FAIL[@]}"; do printf '%s,%s\n' "$k" "${FAIL[$k]}"; done
    } | jq -R 'split(",") | {metric: .[0], runtime: .[1], count: (.[2] | tonumber)}' | jq -s . >"$TMP/fail.json"
    jq -n --arg runtimes "$RUNTIMES" --argjson quick "$QUICK" --arg hide "$HIDE" \
        --argjson n_life "$N_LIFE" --argjson n_seq "$N_SEQ" --argjson n_seq_reps "$N_SEQ_REPS" \
        --argjson n_cmd "$N_CMD" --argjson n_rss "$N_RSS" --argjson n_eng "$N_ENG" --arg kernel "$(uname -r)" \
        --arg cpu "$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)" --argjson ncpu "$(nproc)" \
        --arg date "$(date -Is)" --arg commit "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
        --arg dirty "$(git -C "$repo" status --porcelain -- crates 2>/dev/null | head -1)" \
        --slurpfile fail "$TMP/fail.json" --slurpfile bins "$OUT/binaries.json" '
        {date:$date, husk_commit:$commit, husk_tree_dirty:($dirty != ""), runtimes:($runtimes | split(" ")),
         quick:($quick == 1), hide_cgroup2:$hide, kernel:$kernel, cpu:$cpu, ncpu:$ncpu,
         iterations:{lifecycle:$n_life, seq_runs:$n_seq, seq_reps:$n_seq_reps, single_cmd:$n_cmd, rss:$n_rss, engines:$n_eng},
         failures:$fail[0], binaries:$bins[0]}' >"$OUT/meta.json"
    rm -f "$OUT/binaries.json"
    [ -s "$OUT/errors.log" ] || rm -f "$OUT/errors.log"
}

# shellcheck source=engines.sh
. "$here/engines.sh"

if [ "${BENCH_STAGE:-}" = inner ]; then
    inner
else
    outer
fi
