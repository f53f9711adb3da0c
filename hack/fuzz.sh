#!/usr/bin/env bash
# make fuzz: a bounded libFuzzer run of fuzz/fuzz_targets/config.rs (config.json
# loading + validation must never panic). FUZZ_TIME seconds (default 60).
# Installs cargo-fuzz if missing. Uses `cargo +nightly` when a nightly
# toolchain is installed, else the stable one with RUSTC_BOOTSTRAP=1 (cargo-fuzz
# passes -Z flags). New inputs go to a scratch directory; the committed seed
# corpus (fuzz/corpus/config) is only read. A crash leaves its input under
# fuzz/artifacts/config/ and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_TIME=${FUZZ_TIME:-60}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

toolchain=()
if cargo +nightly --version >/dev/null 2>&1 && [[ -z "${FUZZ_STABLE:-}" ]]; then
    toolchain=(+nightly)
    echo "fuzz: nightly toolchain"
else
    export RUSTC_BOOTSTRAP=1
    echo "fuzz: no nightly toolchain (or FUZZ_STABLE set): stable with RUSTC_BOOTSTRAP=1"
fi

work=$(mktemp -d /tmp/husk-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd fuzz
cargo "${toolchain[@]}" fuzz run config "$work" corpus/config -- \
    -max_total_time="$FUZZ_TIME" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
