#!/usr/bin/env python3
"""Print containers-common's default seccomp profile as the linux.seccomp
object podman would send for a container with podman's default
capabilities on this machine's architecture (for measuring compile cost).
Usage: containers-seccomp.py [/usr/share/containers/seccomp.json]"""
import json
import platform
import sys

CAPS = {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
        "CAP_SETUID", "CAP_SYS_CHROOT"}
ARCH = {"x86_64": ("SCMP_ARCH_X86_64", "amd64"), "aarch64": ("SCMP_ARCH_AARCH64", "arm64")}

path = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/containers/seccomp.json"
p = json.load(open(path))
arch, go_arch = ARCH[platform.machine()]
arches = [arch] + [s for m in p["archMap"] if m["architecture"] == arch
                   for s in m.get("subArchitectures", [])]
rules = []
for s in p["syscalls"]:
    inc, exc = s.get("includes") or {}, s.get("excludes") or {}
    if inc.get("arches") and go_arch not in inc["arches"]:
        continue
    if not set(inc.get("caps") or []) <= CAPS:
        continue
    if set(exc.get("caps") or []) & CAPS:
        continue
    r = {"names": s["names"], "action": s["action"]}
    for k in ("args", "errnoRet"):
        if s.get(k):
            r[k] = s[k]
    rules.append(r)
json.dump({"defaultAction": p["defaultAction"], "defaultErrnoRet": p.get("defaultErrnoRet"),
           "architectures": arches, "syscalls": rules}, sys.stdout)
