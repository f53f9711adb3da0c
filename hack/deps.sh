#!/usr/bin/env bash
# Installs what building and testing husk needs on a fresh Debian 12 host
# (run as root). Quick when everything is already there.
set -euo pipefail

packages=(busybox-static jq gcc libc6-dev make pkg-config python3 binutils runc libseccomp2 libseccomp-dev golang-github-containers-common uidmap criu util-linux)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: missing ${missing[*]}; run as root or install them with apt-get" >&2
        exit 1
    fi
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "deps: cargo not found: install a Rust toolchain (rustup) first" >&2
    exit 1
fi
# rust-toolchain.toml pins the compiler (hot-text.ld holds its symbol names).
# Where that release is installed only as "stable" (rustup cannot download
# here), it is linked under the pinned name; another release is an error
# here rather than a download attempt at the first cargo call.
pin=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$(dirname "$0")/../rust-toolchain.toml")
if [ -n "$pin" ] && command -v rustup >/dev/null 2>&1 &&
    ! rustup toolchain list | grep -q "^$pin-"; then
    have=$(rustup run stable rustc --version 2>/dev/null | awk '{print $2}')
    if [ "$have" != "$pin" ]; then
        echo "deps: rust-toolchain.toml pins rustc $pin; this machine's stable toolchain is ${have:-missing}: install $pin (rustup toolchain install $pin), or move the pin and run make layout" >&2
        exit 1
    fi
    # `rustup toolchain link` refuses release names: the link is made as
    # rustup keeps its toolchains, one directory per name and host.
    host=$(rustup run stable rustc -vV | sed -n 's/^host: //p')
    ln -s "$(rustup run stable rustc --print sysroot)" \
        "${RUSTUP_HOME:-$HOME/.rustup}/toolchains/$pin-$host"
    echo "deps: linked the stable toolchain (rustc $have) as $pin"
fi
