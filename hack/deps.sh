#!/usr/bin/env bash
# Installs what building and testing husk needs on a fresh Debian 12 host
# (run as root). Quick when everything is already there.
set -euo pipefail

packages=(busybox-static jq gcc libc6-dev make pkg-config python3 binutils runc libseccomp2 golang-github-containers-common uidmap criu util-linux)
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
