#!/usr/bin/env python3
"""Saves what an engine hands husk, for the differential corpus (make corpus).

Called by the wrapper run.sh puts in husk's place when E2E_CORPUS is set:

    capture.py OUT_DIR SCENARIO_FILE E2E_TMP -- HUSK_ARGS...

For `create` and `run` it saves the bundle's config.json, for `exec
--process F` the process JSON, normalised so that two runs of the same
scenario give the same file (ids, paths, pids become placeholders; see
integration/tests/diff.rs), into OUT_DIR/<scenario>.json (or
<scenario>.process.json); a config already saved under any name is not saved
again (the digests seen are kept in E2E_TMP). Never fails the call it
wraps: errors go to stderr, which the wrapper sends to the results' log.
"""
import hashlib
import json
import os
import re
import sys

# Global options of husk/runc that take a value.
GLOBAL_VALUE = {"--root", "--log", "--log-format", "--criu", "--rootless"}
# Bind sources that exist on every host as they are: kept.
HOST_PATHS = ("/dev", "/proc", "/sys", "/etc/", "/lib", "/usr/")


def parse(argv):
    """(verb, options dict, positionals) of a husk command line."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        name = argv[i].split("=", 1)[0]
        i += 2 if name in GLOBAL_VALUE and "=" not in argv[i] else 1
    if i >= len(argv):
        return None, {}, []
    verb, rest = argv[i], argv[i + 1:]
    opts, pos = {}, []
    j = 0
    valued = {"--bundle", "-b", "--process", "-p", "--console-socket", "--pid-file",
              "--preserve-fds", "--cwd", "--env", "-e", "--user", "-u", "--cgroup",
              "--process-label", "--apparmor", "--cap", "-c", "--additional-gids", "-g"}
    while j < len(rest):
        a = rest[j]
        if a.startswith("-") and not pos:
            name, eq, val = a.partition("=")
            if eq:
                opts[name] = val
            elif name in valued and j + 1 < len(rest):
                opts[name] = rest[j + 1]
                j += 1
            else:
                opts[name] = ""
        else:
            pos.append(a)
        j += 1
    return verb, opts, pos


class Normaliser:
    def __init__(self, cid, bundle, tmp):
        self.cid, self.bundle, self.tmp = cid, bundle, tmp
        self.hexes = {}
        self.sources = {}

    def text(self, s):
        if self.bundle:
            s = s.replace(self.bundle, "<BUNDLE>")
        if self.cid:
            s = s.replace(self.cid, "<ID>")
            if re.fullmatch(r"[0-9a-f]{32,}", self.cid):
                s = s.replace(self.cid[:12], "<ID12>")
        if self.tmp:
            s = s.replace(self.tmp, "<TMP>")
        s = re.sub(r"[0-9a-f]{64}",
                   lambda m: self.hexes.setdefault(m.group(0), "<HEX%d>" % (len(self.hexes) + 1)), s)
        s = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", "<TIME>", s)
        s = re.sub(r"\be2e-(husk|runc)-\d+\b", r"e2e-\1-<N>", s)  # the CRI client's pod uid
        return re.sub(r"/proc/\d+/", "/proc/<PID>/", s)

    def walk(self, v):
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, list):
            return [self.walk(x) for x in v]
        if isinstance(v, dict):
            return {k: self.walk(x) for k, x in v.items()}
        return v

    def source(self, src):
        """A bind source that only existed for that run becomes a scratch one."""
        if src.startswith(HOST_PATHS) and not (self.tmp and src.startswith(self.tmp)):
            return src
        kind = "<FILE>" if os.path.isfile(src) else "<DIR>"
        base = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(src.rstrip("/")) or "src")
        base = self.text(base)
        # Named after the source, numbered only when two share a name (a
        # number by position would change with podman's mount order).
        name, k = base, 1
        while self.sources.get(name, src) != src:
            k += 1
            name = "%s-%d" % (base, k)
        self.sources[name] = src
        return "%s/%s" % (kind, name)


def config(cfg, n):
    out = n.walk(cfg)
    out.setdefault("root", {})["path"] = "rootfs"
    for ns in out.get("linux", {}).get("namespaces", []) or []:
        if ns.get("path"):
            ns["path"] = "<NS>"
    for orig, m in zip(cfg.get("mounts", []) or [], out.get("mounts", []) or []):
        opts = m.get("options") or []
        if (m.get("type") == "bind" or "bind" in opts or "rbind" in opts) and orig.get("source"):
            m["source"] = n.source(orig["source"])
    return out


def save(out_dir, tmp, scenario, suffix, doc):
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    # podman orders its own mounts (hosts, resolv.conf, shm …) differently
    # from run to run: the same config in another order is not a new one.
    key = dict(doc)
    if isinstance(key.get("mounts"), list):
        key["mounts"] = sorted(key["mounts"], key=lambda m: json.dumps(m, sort_keys=True))
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    seen_file = os.path.join(tmp, "corpus-seen")
    seen = set(open(seen_file).read().split()) if os.path.exists(seen_file) else set()
    if digest in seen:
        return
    name, k = scenario, 1
    while os.path.exists(os.path.join(out_dir, name + suffix)):
        k += 1
        name = "%s-%d" % (scenario, k)
    with open(os.path.join(out_dir, name + suffix), "w") as f:
        f.write(text)
    with open(seen_file, "a") as f:
        f.write(digest + "\n")


def main():
    out_dir, scenario_file, tmp = sys.argv[1:4]
    argv = sys.argv[5:]
    verb, opts, pos = parse(argv)
    if verb not in ("create", "run", "exec"):
        return
    try:
        scenario = open(scenario_file).read().strip() or "unknown"
    except OSError:
        scenario = "unknown"
    cid = pos[-1] if verb != "exec" and pos else (pos[0] if pos else "")
    if verb == "exec":
        if "--process" not in opts and "-p" not in opts:
            return
        p = opts.get("--process") or opts.get("-p")
        doc = json.load(open(p))
        save(out_dir, tmp, scenario, ".process.json", Normaliser(cid, None, tmp).walk(doc))
        return
    bundle = os.path.abspath(opts.get("--bundle") or opts.get("-b") or ".")
    cfg = json.load(open(os.path.join(bundle, "config.json")))
    save(out_dir, tmp, scenario, ".json", config(cfg, Normaliser(cid, bundle, tmp)))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # never fail the engine's call
        print("capture: %s: %r" % (" ".join(sys.argv[5:]), e), file=sys.stderr)
