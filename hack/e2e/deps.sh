#!/usr/bin/env bash
# Installs the engines the e2e suite drives (Debian 12, as root). Quick when
# everything is already there.
set -euo pipefail
packages=(podman conmon containerd docker.io skopeo umoci uidmap slirp4netns fuse-overlayfs criu
    containernetworking-plugins busybox-static runc util-linux bsdutils iproute2
    python3-grpcio python3-protobuf)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "e2e deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# CRI protos for the CRI client (kubernetes-cri ships the generated CRI
# api_pb2.py; hack/e2e/cri_client.py re-registers it under runtime.v1).
if ! /usr/bin/python3 -c 'import kubernetes.cri.api_pb2' >/dev/null 2>&1 \
    && [ ! -d "${E2E_PYDEPS:-/var/cache/husk-e2e/py}/kubernetes" ]; then
    echo "e2e deps: pip kubernetes-cri (CRI protos)"
    /usr/bin/python3 -m pip install -q --no-deps --target "${E2E_PYDEPS:-/var/cache/husk-e2e/py}" kubernetes-cri==0.1.3 \
        || echo "e2e deps: kubernetes-cri not installed; the CRI scenario will fail its setup" >&2
fi
