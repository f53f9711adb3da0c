#!/usr/bin/env bash
# Runs a command as root in a throwaway QEMU VM booted with pure cgroup v2
# (cgroup_no_v1=all), and propagates its exit status. See hack/vm/README.md.
#
#   hack/vm/run.sh [--timeout S] [--share DIR]... [--mem MB] [--cpus N] [--systemd] [-v] -- CMD [ARGS...]
#   hack/vm/run.sh --prepare        # only install packages and build the kernel cache
#
#   --timeout S   kill the VM after S seconds (default 600) and exit 124
#   --share DIR   also share host DIR read-write at the same path (repeatable);
#                 the workspace is always shared read-write
#   --mem MB      guest RAM (default 3072; the guest's /, /tmp and /run are tmpfs)
#   --cpus N      vCPUs (default: host CPUs, at most 4)
#   --systemd     boot systemd (the host's /lib/systemd/systemd) as PID 1 and
#                 run CMD as its service husk-vm.service
#   -v            print the guest kernel console when the VM is done
#
# Guest: host / read-only (9p) under a tmpfs overlay, the workspace and every
# --share read-write at their host paths, fresh /tmp and /run. CMD runs from
# the current directory (else /) with PATH, HOME=/root and, when set here,
# HUSK_BIN, RUNTIMETEST_BIN, RUSTC, RUST_BACKTRACE, RUST_LOG; stdin is /dev/null.
# Exit status: CMD's; 124 on timeout; 125 when the VM failed to report one.
# Env: HUSK_VM_DIR (cache, default /var/tmp/husk-vm), HUSK_VM_ACCEL (kvm|tcg),
#      HUSK_VM_APPEND (extra kernel command line).
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${HUSK_VM_DIR:-/var/tmp/husk-vm}
MODULES="virtio_pci virtio_console virtio-rng 9pnet_virtio 9p overlay"

die() { echo "husk-vm: $*" >&2; exit 125; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

timeout=600 mem=3072 verbose=0 prepare=0 systemd=0 shares=("$REPO")
cpus=$(nproc); [ "$cpus" -gt 4 ] && cpus=4
while [ $# -gt 0 ]; do
    case $1 in
        --timeout) timeout=$2; shift 2 ;;
        --share) [ -d "$2" ] || die "--share $2: not a directory"
                 shares+=("$(cd "$2" && pwd -P)"); shift 2 ;;
        --mem) mem=$2; shift 2 ;;
        --cpus) cpus=$2; shift 2 ;;
        -v) verbose=1; shift ;;
        --systemd) [ -x /lib/systemd/systemd ] || die "--systemd: no /lib/systemd/systemd (apt-get install systemd)"
                   systemd=1; shift ;;
        --prepare) prepare=1; shift ;;
        -h|--help) usage ;;
        --) shift; break ;;
        *) usage ;;
    esac
done
[ $# -gt 0 ] || [ "$prepare" = 1 ] || usage
[ "$(id -u)" = 0 ] || die "must run as root (qemu shares the host / with its owners and modes)"

# --- host packages -----------------------------------------------------------
missing=()
for p in qemu-system-x86 busybox-static python3; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "husk-vm: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    } || die "cannot install ${missing[*]}"
fi

# --- kernel + initramfs cache ------------------------------------------------
# $CACHE/kernel: the unpacked Debian kernel package (its modules are mounted
# in the guest for modprobe); $CACHE/boot: vmlinux (PVH entry: no
# decompression, ~2 s faster under TCG) or vmlinuz, and the initramfs, named
# after the init script's checksum so that editing it rebuilds it.
build_kernel() {
    local pkg deb tmp
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    if [ -z "$pkg" ]; then
        apt-get update -q >/dev/null
        pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    fi
    [ -n "$pkg" ] || die "cannot find the package linux-image-amd64 depends on"
    echo "husk-vm: downloading $pkg into $CACHE (once)" >&2
    tmp=$(mktemp -d "$CACHE/dl.XXXXXX")
    (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null) || { rm -rf "$tmp"; die "apt-get download $pkg failed"; }
    deb=$(ls "$tmp"/*.deb)
    rm -rf "$CACHE/kernel" "$CACHE/boot"
    mkdir -p "$CACHE/kernel" "$CACHE/boot"
    dpkg-deb -x "$deb" "$CACHE/kernel"
    rm -rf "$tmp"
    kver=$(ls "$CACHE/kernel/lib/modules")
    # text modules.dep for busybox modprobe (in the initramfs and the guest)
    busybox depmod -b "$CACHE/kernel" "$kver"
    sed -n 's/^CONFIG_HZ=//p' "$CACHE/kernel/boot/config-$kver" > "$CACHE/boot/hz"
    cp "$CACHE/kernel/boot/vmlinuz-$kver" "$CACHE/boot/vmlinuz"
    if grep -q '^CONFIG_PVH=y' "$CACHE/kernel/boot/config-$kver"; then
        # the xz (or gzip) stream inside the bzImage is the ELF vmlinux
        "$(command -v /usr/bin/python3 || command -v python3)" - "$CACHE/boot/vmlinuz" "$CACHE/boot/vmlinux" <<'EOF' ||
import lzma, sys, zlib
data = open(sys.argv[1], "rb").read()
for magic, dec in ((b"\xfd7zXZ\x00", lambda: lzma.LZMADecompressor()), (b"\x1f\x8b\x08", lambda: zlib.decompressobj(31))):
    at = data.find(magic)
    while at >= 0:
        try:
            out = dec().decompress(data[at:])
            if out[:4] == b"\x7fELF":
                open(sys.argv[2], "wb").write(out)
                sys.exit(0)
        except Exception:
            pass
        at = data.find(magic, at + 1)
sys.exit(1)
EOF
        { rm -f "$CACHE/boot/vmlinux"; echo "husk-vm: no vmlinux extracted, booting the bzImage (slower)" >&2; }
    fi
    echo "$kver" > "$CACHE/boot/kver"   # written last: marks the cache complete
}

build_initramfs() {  # $1: output file
    local root=$CACHE/boot/initramfs.tmp M=$CACHE/kernel/lib/modules/$kver m f
    rm -rf "$root"
    mkdir -p "$root"/{bin,dev,proc,sys,etc,lib/modules,host,rw,newroot}
    cp "$(readlink -f /bin/busybox)" "$root/bin/busybox"
    cp "$HERE/init" "$root/init"
    chmod 755 "$root/init"
    # each module after its dependencies (modules.dep lists them last-loaded first)
    for m in $MODULES; do
        awk -v m="$m" '{ k = $1; sub(/:$/, "", k); n = k; sub(/.*\//, "", n); sub(/\.ko.*/, "", n)
                         if (n == m) { for (i = NF; i > 1; i--) print $i; print k; exit } }' "$M/modules.dep"
    done | awk '!seen[$0]++' | while read -r f; do
        cp "$M/$f" "$root/lib/modules/"
        basename "$f" >> "$root/etc/modules"
    done
    (cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip -1 > "$1.tmp"
    mv "$1.tmp" "$1"
    rm -rf "$root"
}

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9   # one cache builder at a time
if [ ! -s "$CACHE/boot/kver" ]; then
    build_kernel
fi
kver=$(cat "$CACHE/boot/kver")
initrd=$CACHE/boot/initramfs-$(cat "$HERE/init" "$0" | cksum | cut -d' ' -f1).cpio.gz
if [ ! -f "$initrd" ]; then
    rm -f "$CACHE"/boot/initramfs-*.cpio.gz
    build_initramfs "$initrd"
fi
flock -u 9
[ "$prepare" = 1 ] && { echo "husk-vm: ready ($kver, cache $CACHE)"; exit 0; }
kernel=$CACHE/boot/vmlinuz
[ -f "$CACHE/boot/vmlinux" ] && kernel=$CACHE/boot/vmlinux

# --- accelerator ---------------------------------------------------------------
# Plain KVM (kvm_intel/kvm_amd) runs the stock kernel; a PVM-only /dev/kvm
# (kvm_pvm) does not, so that falls back to multi-threaded TCG.
accel=${HUSK_VM_ACCEL:-}
if [ -z "$accel" ]; then
    accel=tcg
    [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; } && accel=kvm
fi
cmdline="console=ttyS0 quiet panic=-1 rdinit=/init cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1"
cmdline+=" mitigations=off tsc=reliable no_timer_check cryptomgr.notests i8042.noaux i8042.nokbd"
cmdline+=" ${HUSK_VM_APPEND:-}"
if [ "$accel" = kvm ]; then
    accel_args=(-accel kvm -cpu host)
else
    accel_args=(-accel tcg,thread=multi,tb-size=512 -cpu max)
    # loops_per_jiffy from the host's clock: skips the delay-loop calibration
    lpj=$(awk -F: -v hz="$(cat "$CACHE/boot/hz")" '/^cpu MHz/ { printf "%d", $2 * 1000000 / hz; exit }' /proc/cpuinfo)
    [ "${lpj:-0}" -gt 0 ] && cmdline+=" lpj=$lpj"
fi

# --- one run -----------------------------------------------------------------
run=$(mktemp -d "$CACHE/run.XXXXXX")
vm_pid= out_pid= err_pid=
cleanup() {
    for p in $vm_pid $out_pid $err_pid; do kill "$p" 2>/dev/null || true; done
    rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }   # shell-quote for the guest's /bin/sh

# ctl/shares: "tag path" lines for the init; ctl/cmd: what it runs.
share_args=() i=0
for s in "${shares[@]}"; do
    share_args+=(-fsdev "local,id=s$i,path=${s//,/,,},security_model=passthrough,multidevs=remap"
                 -device "virtio-9p-pci,fsdev=s$i,mount_tag=s$i")
    echo "s$i $s" >> "$run/shares"
    i=$((i + 1))
done
echo "$CACHE/kernel/lib/modules/$kver" > "$run/moddir"
[ "$systemd" = 1 ] && : > "$run/systemd"
{
    echo "cd $(q "$PWD") 2>/dev/null || cd /"
    echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root"
    for v in HUSK_BIN RUNTIMETEST_BIN RUSTC RUST_BACKTRACE RUST_LOG; do
        [ -n "${!v:-}" ] && echo "export $v=$(q "${!v}")"
    done
    printf 'exec'; for a in "$@"; do printf ' %s' "$(q "$a")"; done; echo
} > "$run/cmd"

# CMD's stdout and stderr come out of two virtio-serial ports, each written
# by qemu to a FIFO that cat copies to ours.
mkfifo "$run/out" "$run/err"
cat "$run/out" & out_pid=$!
cat "$run/err" >&2 & err_pid=$!

bios=(); [ -f /usr/share/qemu/qboot.rom ] && bios=(-bios /usr/share/qemu/qboot.rom)
start=$SECONDS
timeout -k 5 "$timeout" qemu-system-x86_64 \
    -machine q35 "${accel_args[@]}" -smp "$cpus" -m "$mem" \
    -nodefaults -no-user-config -nographic -no-reboot "${bios[@]}" \
    -kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
    -chardev file,id=con,path="$run/console" -serial chardev:con \
    -device virtio-serial-pci \
    -chardev file,id=out,path="$run/out" -device virtserialport,chardev=out,name=out \
    -chardev file,id=err,path="$run/err" -device virtserialport,chardev=err,name=err \
    -device virtio-rng-pci \
    -fsdev local,id=ctl,path="$run",security_model=none -device virtio-9p-pci,fsdev=ctl,mount_tag=ctl \
    -fsdev local,id=host,path=/,readonly=on,security_model=passthrough,multidevs=remap \
    -device virtio-9p-pci,fsdev=host,mount_tag=host \
    "${share_args[@]}" </dev/null 2>"$run/qemu.err" &
vm_pid=$!
rc=0; wait "$vm_pid" || rc=$?
vm_pid=
# cat may still be blocked opening a FIFO that qemu never opened: open it too
: <>"$run/out"; : <>"$run/err"
wait "$out_pid" "$err_pid" || true
out_pid= err_pid=
[ "$verbose" = 1 ] && cat "$run/console" >&2
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "husk-vm: TIMEOUT: CMD did not finish within ${timeout}s; the VM was killed (--timeout S to change)" >&2
    exit 124
fi
if [ ! -s "$run/status" ]; then
    echo "husk-vm: the VM stopped after $((SECONDS - start))s without CMD's exit status (qemu status $rc); qemu and console tail:" >&2
    cat "$run/qemu.err" >&2
    tail -n 30 "$run/console" >&2
    exit 125
fi
exit "$(cat "$run/status")"
