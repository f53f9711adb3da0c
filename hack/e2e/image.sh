#!/usr/bin/env bash
# Builds a local busybox OCI image with umoci (no registry) in $1 (an OCI layout
# directory, tag "latest"), plus an oci-archive tarball $1.tar for ctr import.
set -euo pipefail
layout=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$layout"
umoci init --layout "$layout"
umoci new --image "$layout:latest"
umoci unpack --image "$layout:latest" "$work/bundle"
root=$work/bundle/rootfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,proc,sys,dev,root,home/user,data,var/tmp}
chmod 1777 "$root/tmp" "$root/var/tmp"
cp /bin/busybox "$root/bin/busybox"
for a in $("$root/bin/busybox" --list-full); do
    [ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\nnobody:x:65534:\n' >"$root/etc/group"
chown 1000:1000 "$root/home/user"
umoci config --image "$layout:latest" --config.cmd /bin/sh --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    --config.workingdir / --architecture amd64 --os linux
umoci repack --image "$layout:latest" "$work/bundle"
# "pause": the CRI sandbox image (the same busybox, sleeping for ever).
umoci config --image "$layout:latest" --tag pause --clear=config.cmd --config.cmd /bin/sleep --config.cmd 2147483647
umoci gc --layout "$layout"
rm -f "$layout.tar"
skopeo copy --quiet "oci:$layout:latest" "oci-archive:$layout.tar:localhost/husk-busybox:latest"
echo "image: $layout (oci layout) and $layout.tar (oci-archive)"
