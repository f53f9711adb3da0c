#!/usr/bin/env bash
# mkbundle.sh DIR [ARGS...]
#
# Creates (or refreshes) an OCI bundle in DIR:
#   DIR/rootfs       busybox-static with every applet linked in /bin
#   DIR/config.json  from `${HUSK:-husk} spec --bundle DIR` when that runtime
#                    is available, else a built-in default mirroring
#                    `runc spec`; terminal is set to false and process.args
#                    to ARGS (default: sh).
# Safe to run again on the same DIR.
set -euo pipefail

usage() {
    echo "usage: $0 DIR [ARGS...]" >&2
    exit 2
}

[ "$#" -ge 1 ] || usage
dir=$1
shift
if [ "$#" -eq 0 ]; then
    set -- sh
fi

apt_install() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "mkbundle: $* missing and not root: install it with apt-get" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "$@" >/dev/null 2>&1 || {
        apt-get update -q >/dev/null
        apt-get install -y -q "$@" >/dev/null
    }
}

busybox=/bin/busybox
is_static() { [ -x "$1" ] && ! ldd "$1" >/dev/null 2>&1; }
if ! is_static "$busybox"; then
    apt_install busybox-static
    is_static "$busybox" || {
        echo "mkbundle: $busybox is still missing or not static" >&2
        exit 1
    }
fi
command -v jq >/dev/null 2>&1 || apt_install jq

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
rootfs=$dir/rootfs

mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc,root}
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/root"
cp -f "$busybox" "$rootfs/bin/busybox"
chmod 0755 "$rootfs/bin/busybox"
# Relative links, so they resolve both inside the container and from the host.
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] && continue
    ln -sfn busybox "$rootfs/bin/$applet"
done
[ -e "$rootfs/etc/passwd" ] || printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
[ -e "$rootfs/etc/group" ] || printf 'root:x:0:\nnobody:x:65534:\n' >"$rootfs/etc/group"

runtime=${HUSK:-husk}
config=$dir/config.json
rm -f "$config"
if command -v "$runtime" >/dev/null 2>&1 && "$runtime" spec --bundle "$dir" >/dev/null 2>&1 && [ -s "$config" ]; then
    echo "mkbundle: config.json from '$runtime spec'" >&2
else
    rm -f "$config"
    echo "mkbundle: '$runtime' not usable, writing the built-in default config.json" >&2
    cat >"$config" <<'EOF'
{
  "ociVersion": "1.0.2-dev",
  "process": {
    "terminal": false,
    "user": { "uid": 0, "gid": 0 },
    "args": [ "sh" ],
    "env": [
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "TERM=xterm"
    ],
    "cwd": "/",
    "capabilities": {
      "bounding": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "effective": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "permitted": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "ambient": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ]
    },
    "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
    "noNewPrivileges": true
  },
  "root": { "path": "rootfs", "readonly": true },
  "hostname": "husk",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
      "options": [ "nosuid", "strictatime", "mode=755", "size=65536k" ] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
      "options": [ "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" ] },
    { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
      "options": [ "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" ] },
    { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
      "options": [ "nosuid", "noexec", "nodev" ] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs",
      "options": [ "nosuid", "noexec", "nodev", "ro" ] },
    { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
      "options": [ "nosuid", "noexec", "nodev", "relatime", "ro" ] }
  ],
  "linux": {
    "resources": { "devices": [ { "allow": false, "access": "rwm" } ] },
    "namespaces": [
      { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
      { "type": "uts" }, { "type": "mount" }
    ],
    "maskedPaths": [
      "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
      "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
    ],
    "readonlyPaths": [
      "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
    ]
  }
}
EOF
fi

# One jq call per argument: jq 1.6 would read a "-c" after --args as its own flag.
args_json=$(for a in "$@"; do jq -n --arg a "$a" '$a'; done | jq -cs .)
tmp=$(mktemp "$dir/.config.json.XXXXXX")
jq --argjson args "$args_json" '.process.terminal = false | .process.args = $args' "$config" >"$tmp"
mv -f "$tmp" "$config"
echo "$dir"
