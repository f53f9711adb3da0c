#!/usr/bin/env python3
"""Lays out husk's hot code from traced runs (see README.md next to this file).

  order.py entries MAP BIN OUT         entry offsets of every function, for tracetext
  order.py script MAP BIN OUT TRACE... write the linker script gathering the traced functions
  order.py check MAP BIN [--max-cold KIB] TRACE...
                                       per trace: executed code inside/outside the hot section

MAP is the lld/ld link map of BIN (the build writes it, see crates/husk/build.rs).
A TRACE is tracetext's output: file offsets of the functions a command ran, in
first-run order. Traces are given in priority order: the first command's
functions go first.
"""
import re
import subprocess
import sys

HOT = ".text.hot"

# One map line: VMA LMA Size Align, then either an output section name, an
# input section "file:(name)", or a symbol.
LINE = re.compile(r"^\s*([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+(\d+)\s(\s*)(.*)$")


def parse_map(path):
    """Returns [(vma, size, output section, input section name)] of code sections."""
    out, cur = [], None
    for line in open(path):
        m = LINE.match(line)
        if not m:
            continue
        vma, size, rest = int(m.group(1), 16), int(m.group(3), 16), m.group(6)
        if ":(" in rest:
            name = rest[rest.rindex(":(") + 2 : -1]
            if cur in (".text", HOT) and name.startswith(".text") and size:
                out.append((vma, size, cur, name))
        elif rest.startswith(".") and len(m.group(5)) == 0:
            cur = rest.split()[0]
    if not out:
        sys.exit(f"order.py: no code sections in {path}: not a link map of husk?")
    return out


def code_segment(binary):
    """(file offset, vaddr, size) of the executable PT_LOAD."""
    ph = subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True, check=True)
    for line in ph.stdout.splitlines():
        f = line.split()
        if f and f[0] == "LOAD" and "E" in f[6:-1]:
            return int(f[1], 16), int(f[2], 16), int(f[5], 16)
    sys.exit(f"order.py: {binary} has no executable segment")


def check_same_link(mp, binary):
    """The map must describe this binary: its code sections must end where
    the binary's executable segment ends."""
    _, va, size = code_segment(binary)
    end = max(v + s for v, s, _, _ in mp)
    if not (va <= end <= va + size and va + size - end < 4096):
        sys.exit(f"order.py: the link map does not describe {binary} (code ends at {end:#x}, "
                 f"the segment at {va + size:#x}): relink husk")


def by_offset(mp, binary):
    check_same_link(mp, binary)
    off, va, _ = code_segment(binary)
    return {vma - va + off: (vma, size, osec, name) for vma, size, osec, name in mp}


def read_trace(path):
    return [int(x, 16) for x in open(path) if x.strip()]


def pattern(section):
    """A glob for the section that survives rebuilds.

    Legacy Rust symbols end in a hash of the crate's build metadata (it changes
    with dependencies, the toolchain or RUSTFLAGS); v0 symbols carry crate
    disambiguators and back-references whose offsets follow from them; LTO
    suffixes local copies with counters. All of these become wildcards; a
    generic function's instances then match together, which is acceptable.
    """
    m = re.match(r"^\.text\.(?:(?:unlikely|hot|startup|exit|split)\.)?(.*)$", section)
    sym = m.group(1) if m else ""
    if not sym:
        return None
    if not (sym.startswith("_ZN") or sym.startswith("_R")):
        return f".text.{sym} .text.unlikely.{sym}"
    sym = re.sub(r"\.(llvm\.)?\d+$", "*", sym)
    sym = re.sub(r"17h[0-9a-f]{16}E$", "17h*E", sym)
    if sym.startswith("_R"):
        sym = re.sub(r"Cs[0-9A-Za-z]*_(?=\d)", "Cs*_", sym)
        sym = re.sub(r"B[0-9A-Za-z]*_", "B*_", sym)
    sym = re.sub(r"\*+", "*", sym)
    return f".text.*{sym}"


def cmd_entries(mp_path, binary, out):
    offs = sorted(by_offset(parse_map(mp_path), binary))
    with open(out, "w") as f:
        f.writelines(f"{o:x}\n" for o in offs)


def cmd_script(mp_path, binary, out, traces):
    """Two tiers: the exact sections of the build that was traced, in priority
    order, then the same functions as globs (see pattern()), which only take
    effect once a rebuild has renamed the exact ones. A section goes to the
    first statement that matches it, so the globs' extra matches (other
    instances of a generic function) land after all the traced code."""
    sections = by_offset(parse_map(mp_path), binary)
    exact, pats, seen, hot_bytes = [], [], set(), 0
    for t in traces:
        for o in read_trace(t):
            sec = sections.get(o)
            if sec is None or sec[3] in seen or not pattern(sec[3]):
                continue
            seen.add(sec[3])
            exact.append(sec[3])
            hot_bytes += sec[1]
            p = pattern(sec[3])
            if p not in seen:
                seen.add(p)
                pats.append(p)
    with open(out, "w") as f:
        f.write(
            "/* Generated by `make layout` (hack/layout/gen.sh) from traced husk commands:\n"
            f"   {len(exact)} functions, {hot_bytes // 1024} KiB, gathered at the start of the code\n"
            "   so that a lifecycle command faults in few pages. Do not edit. */\n"
            "SECTIONS\n{\n"
            f"  {HOT} : {{\n"
        )
        for name in exact:
            f.write(f"    *({name})\n")
        f.write("    /* the same functions after a rebuild that renamed them */\n")
        for p in pats:
            f.write(f"    *({p})\n")
        f.write("  }\n}\nINSERT BEFORE .text;\n")
    print(f"order.py: {out}: {len(exact)} functions, {hot_bytes // 1024} KiB")


def cmd_check(mp_path, binary, traces, max_cold_kib):
    sections = by_offset(parse_map(mp_path), binary)
    hot_end = max((v + s for v, s, o, _ in sections.values() if o == HOT), default=0)
    bad = False
    print(f"{'command':<12} {'functions':>9} {'KiB run':>8} {'KiB outside hot':>16} {'64K windows':>12}")
    for t in traces:
        hits = [sections[o] for o in read_trace(t) if o in sections]
        total = sum(s for _, s, _, _ in hits)
        cold = [h for h in hits if h[2] != HOT]
        cold_bytes = sum(s for _, s, _, _ in cold)
        windows = {w for v, s, _, _ in hits for w in range(v >> 16, ((v + s - 1) >> 16) + 1)}
        name = t.rsplit("/", 1)[-1].removesuffix(".trace")
        print(f"{name:<12} {len(hits):>9} {total / 1024:>8.0f} {cold_bytes / 1024:>16.1f} {len(windows):>12}")
        if cold_bytes > max_cold_kib * 1024:
            bad = True
            worst = sorted(cold, key=lambda h: -h[1])[:5]
            for _, s, _, n in worst:
                print(f"    outside: {s:>6} B {n[:110]}")
    if not hot_end:
        print(f"order.py: {binary} has no {HOT} section: crates/husk/hot-text.ld missing or unused")
        bad = True
    if bad:
        print(
            f"order.py: more than {max_cold_kib} KiB of a command's code lies outside {HOT}; "
            "run `make layout` and commit crates/husk/hot-text.ld"
        )
    return 1 if bad else 0


def main(argv):
    if len(argv) >= 4 and argv[0] == "entries":
        return cmd_entries(argv[1], argv[2], argv[3])
    if len(argv) >= 5 and argv[0] == "script":
        return cmd_script(argv[1], argv[2], argv[3], argv[4:])
    if len(argv) >= 4 and argv[0] == "check":
        rest, max_cold = argv[3:], 32
        if rest[:1] == ["--max-cold"]:
            max_cold, rest = int(rest[1]), rest[2:]
        return cmd_check(argv[1], argv[2], rest, max_cold)
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]) or 0)
