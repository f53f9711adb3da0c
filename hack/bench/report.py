#!/usr/bin/env python3
"""report.py RESULTS_DIR: turns samples.csv + meta.json (written by bench.sh)
into results.json (medians, spreads, ratios, targets), table.md and plot.svg.

Standard library only; the plot is drawn by gnuplot when it is installed."""

import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict

MB = 1_000_000
TARGET_SIZE = 2 * MB  # "stripped binary <= 2 MB" (SI megabytes: the stricter reading)
TARGET_FLOOR = 160 * 1024  # "memory floor <= 160 kB" (160 KiB = 10 steps of 16 KiB)


# The engine section (hack/bench/engines.sh): what the runtime is under.
ENGINE_ROWS = [
    ("eng.podman", "podman run --rm `true` (ms)"),
    ("eng.ctr", "ctr run --rm `true` (ms)"),
    ("eng.cri", "CRI pod: run sandbox, create+start 1 container, stop, remove (ms)"),
    ("eng.docker", "docker run --rm `true` (ms)"),
]


def quantile(xs, q):
    xs = sorted(xs)
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def main(out):
    meta = json.load(open(os.path.join(out, "meta.json")))
    runtimes = meta["runtimes"]
    samples = defaultdict(lambda: defaultdict(list))
    by_round = defaultdict(dict)  # (metric, round) -> {runtime: value}
    units = {}
    with open(os.path.join(out, "samples.csv")) as f:
        for metric, rt, rnd, value, unit in csv.reader(f):
            samples[metric][rt].append(float(value))
            by_round[(metric, rnd)][rt] = float(value)
            units[metric] = unit

    def paired(metric, rt):
        """Median over rounds of value(rt) / value(husk) within the same round:
        robust to load that drifts during the run (neighbours share it)."""
        rs = [v[rt] / v["husk"] for (m, _), v in by_round.items()
              if m == metric and rt in v and v.get("husk", 0) > 0]
        return statistics.median(rs) if rs else None

    stats = {}
    for metric, per_rt in samples.items():
        stats[metric] = {}
        for rt, xs in per_rt.items():
            stats[metric][rt] = {
                "n": len(xs),
                "median": statistics.median(xs),
                "p25": quantile(xs, 0.25),
                "p75": quantile(xs, 0.75),
                "min": min(xs),
                "max": max(xs),
                "unit": units[metric],
            }

    def med(metric, rt):
        s = stats.get(metric, {}).get(rt)
        return None if s is None else s["median"]

    it = meta["iterations"]
    nseq = it["seq_runs"]
    # (key, label, kind): kind picks the formatting of the value.
    rows = [
        ("s1", "S1 create+start+delete, `true` (ms)", "ms"),
        ("s1.create", "&nbsp;&nbsp;S1 create (ms)", "ms"),
        ("s1.start", "&nbsp;&nbsp;S1 start (ms)", "ms"),
        ("s1.delete", "&nbsp;&nbsp;S1 delete --force (ms)", "ms"),
        ("s2", "S2 create+start+delete --force, `sleep 3600` (ms)", "ms"),
        ("s2.create", "&nbsp;&nbsp;S2 create (ms)", "ms"),
        ("s2.start", "&nbsp;&nbsp;S2 start (ms)", "ms"),
        ("s2.delete", "&nbsp;&nbsp;S2 delete --force (kills) (ms)", "ms"),
        ("s3", "S3 run `sleep 0.03` (ms)", "ms"),
        ("seq", f"{nseq}× run `true`, total (s)", "s"),
        ("state", "state of a created container (ms)", "ms"),
        ("version", "--version (ms)", "ms"),
        ("rss.create", "peak RSS create (KiB)", "int"),
        ("rss.state", "peak RSS state (KiB)", "int"),
        ("rss.start", "peak RSS start (KiB)", "int"),
        ("rss.delete", "peak RSS delete (KiB)", "int"),
        ("cpu.create", "CPU time create (ms)", "ms"),
        ("cpu.state", "CPU time state (ms)", "ms"),
        ("cpu.start", "CPU time start (ms)", "ms"),
        ("cpu.delete", "CPU time delete (ms)", "ms"),
        ("size", "binary size as installed (bytes)", "int"),
        ("size.stripped", "binary size stripped (bytes)", "int"),
        ("memfloor", "memory floor, `run true` (KiB)", "floor"),
        ("cg.mem", "memory cgroup charge of a created container (KiB)", "kib"),
        ("cg.kmem", "&nbsp;&nbsp;of which kernel memory (KiB)", "kib"),
    ] + [(k, label, "ms") for k, label in ENGINE_ROWS]

    def fmt(v, kind):
        if v is None:
            return "–"
        if kind == "ms":
            return f"{v / 1000:.1f}" if v >= 10000 else f"{v / 1000:.2f}"
        if kind == "s":
            return f"{v / 1e6:.2f}"
        if kind == "kib":
            return f"{v / 1024:,.0f}"
        if kind == "floor":
            return "> 16384" if v < 0 else f"{v / 1024:.0f}"
        return f"{v:,.0f}"

    def ratio(metric, rt):
        a, b = med(metric, rt), med(metric, "husk")
        if a is None or b is None or a <= 0 or b <= 0:
            return None
        return a / b

    # Targets from the issue; each: (row key, description, verdict function).
    def vs_crun(metric, factor):
        h, c = med(metric, "husk"), med(metric, "crun")
        if h is None or c is None:
            return None, "n/a (needs husk and crun)"
        ok = h <= factor * c
        return ok, f"husk/crun = {h / c:.2f} (≤ {factor:g})"

    targets = {
        "s1": lambda: vs_crun("s1", 0.8),
        "s2": lambda: vs_crun("s2", 0.8),
        "rss.create": lambda: vs_crun("rss.create", 1),
        "rss.state": lambda: vs_crun("rss.state", 1),
        "rss.start": lambda: vs_crun("rss.start", 1),
        "rss.delete": lambda: vs_crun("rss.delete", 1),
        "state": lambda: vs_crun("state", 1),
        "version": lambda: vs_crun("version", 1),
    }

    def size_target():
        v = med("size.stripped", "husk")
        if v is None:
            return None, "n/a"
        return v <= TARGET_SIZE, f"{v / MB:.2f} MB (≤ 2 MB)"

    def floor_target():
        v = med("memfloor", "husk")
        if v is None:
            return None, "n/a"
        if v < 0:
            return False, "> 16 MiB (≤ 160 KiB)"
        return v <= TARGET_FLOOR, f"{v / 1024:.0f} KiB (≤ 160 KiB)"

    targets["size.stripped"] = size_target
    targets["memfloor"] = floor_target

    others = [rt for rt in runtimes if rt != "husk"]
    head = ["metric (median)"] + runtimes
    if "husk" in runtimes:
        head += [f"{rt}/husk" for rt in others] + ["husk target", "met?"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    result_rows = []
    for key, label, kind in rows:
        if key not in stats:
            continue
        cells = [label] + [fmt(med(key, rt), kind) for rt in runtimes]
        row = {"metric": key, "label": re.sub(r"&nbsp;", "", label), "median": {}, "ratio_vs_husk": {}}
        for rt in runtimes:
            row["median"][rt] = med(key, rt)
        if "husk" in runtimes:
            for rt in others:
                r = ratio(key, rt)
                row["ratio_vs_husk"][rt] = r
                cells.append("–" if r is None else f"{r:.2f}×")
            if key in targets:
                ok, text = targets[key]()
                row["target"] = {"met": ok, "detail": text}
                cells += [text, "–" if ok is None else ("✅ met" if ok else "❌ missed")]
            else:
                cells += ["", ""]
        lines.append("| " + " | ".join(cells) + " |")
        result_rows.append(row)

    bins = {b["runtime"]: b for b in meta.get("binaries", [])}
    notes = []
    for rt in runtimes:
        b = bins.get(rt)
        if not b:
            continue
        f = b["file"]
        kind = ("static" if "statically linked" in f or "static-pie" in f else "dynamic")
        strip = "stripped" if ", stripped" in f else "not stripped"
        libs = ", ".join(x for x in b["needed"]) or "none"
        notes.append(f"- **{rt}** `{b['path']}` ({b['version']}): {strip}, {kind}; NEEDED: {libs}")

    fails = meta.get("failures") or []
    title = "husk vs runc vs crun" + (" — QUICK smoke run, not representative" if meta["quick"] else "")
    md = [
        f"# {title}",
        "",
        f"{meta['date']} · husk {meta['husk_commit']}{' (crates/ modified)' if meta['husk_tree_dirty'] else ''}"
        f" · kernel {meta['kernel']} · {meta['ncpu']}× {meta['cpu']}",
        "",
        f"Medians. Lifecycle scenarios: {it['lifecycle']} rounds; {nseq}× run: {it['seq_reps']} repetitions; "
        f"state/--version: {it['single_cmd']} rounds; RSS/CPU: {it['rss']} rounds. Runtimes alternate within "
        f"each round, order rotated per round; all in one private mount namespace with the cgroup2 mount at "
        f"/sys/fs/cgroup/unified hidden ({ {'umount': 'unmounted, an empty tmpfs in its place'}.get(meta['hide_cgroup2'], meta['hide_cgroup2']) }). "
        f"Ratios are runtime/husk: > 1 means husk is faster/smaller.",
        "",
        *lines,
        "",
        "Binaries:",
        "",
        *notes,
        "",
    ]
    if fails:
        md += ["Failed iterations (excluded from the medians; see errors.log):", ""]
        md += [f"- {f['runtime']} {f['metric']}: {f['count']}" for f in fails]
        md += [""]
    pr = [rt for rt in others] if "husk" in runtimes else []
    md += [
        "Spread (p25–p75, ms) of the timed scenarios, and the median of the per-round ratios "
        "(each runtime against husk measured next to it in the same round: less sensitive to "
        "load drifting during the run than the ratio of medians above):",
        "",
        "| scenario | " + " | ".join(runtimes) + "".join(f" | {rt}/husk per round" for rt in pr) + " |",
        "|---|" + "---|" * (len(runtimes) + len(pr)),
    ]
    paired_out = {}
    for key in ["s1", "s1.create", "s1.start", "s1.delete", "s2", "s2.create", "s2.start", "s2.delete",
                "s3", "seq", "state", "version"] + [k for k, _ in ENGINE_ROWS]:
        if key in stats:
            cells = [
                f"{stats[key][rt]['p25'] / 1000:.2f}–{stats[key][rt]['p75'] / 1000:.2f}"
                if rt in stats[key] else "–"
                for rt in runtimes
            ]
            for rt in pr:
                p = paired(key, rt)
                paired_out.setdefault(key, {})[rt] = p
                cells.append("–" if p is None else f"{p:.2f}×")
            md.append(f"| {key} | " + " | ".join(cells) + " |")
    md.append("")
    md += engine_share(runtimes, med, it)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write("\n".join(md))

    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"meta": meta, "rows": result_rows, "stats": stats, "paired_ratio_vs_husk": paired_out}, f, indent=1, sort_keys=True)

    plot(out, runtimes, med, nseq)


def engine_share(runtimes, med, it):
    """What share of an engine's latency is the runtime's: the direct S1
    (create+start+delete of `true`, measured in the same run) over the engine's
    median, and what husk saves per engine call against each other runtime."""
    have = [(k, label) for k, label in ENGINE_ROWS if med(k, "husk") is not None]
    if not have:
        return []
    others = [rt for rt in runtimes if rt != "husk"]
    md = [
        f"Through the engines ({it.get('engines', '?')} rounds, engines and runtimes interleaved). "
        "The runtime's share is S1 (create+start+delete, measured directly in the same run) over "
        "the engine's median: an engine calls create, start and delete once per container (and "
        "state a few times), so this is a close lower bound. The CRI cycle makes two containers "
        "(the pause sandbox and one), so its share uses 2×S1.",
        "",
        "| engine | " + " | ".join(f"{rt}'s share" for rt in runtimes)
        + "".join(f" | husk saves vs {rt}" for rt in others) + " |",
        "|---|" + "---|" * (len(runtimes) + len(others)),
    ]
    for key, label in have:
        n = 2 if key == "eng.cri" else 1
        cells = [label.replace(" (ms)", "")]
        for rt in runtimes:
            e, d = med(key, rt), med("s1", rt)
            cells.append("–" if e is None or d is None else f"{100 * n * d / e:.0f} %")
        for rt in others:
            e, h = med(key, rt), med(key, "husk")
            cells.append("–" if e is None else f"{(e - h) / 1000:.0f} ms ({100 * (e - h) / e:.0f} %)")
        md.append("| " + " | ".join(cells) + " |")
    md.append("")
    return md


def plot(out, runtimes, med, nseq):
    if not shutil.which("gnuplot"):
        print("report: gnuplot not found, no plot", file=sys.stderr)
        return
    panels = [
        ("lifecycle", [("s1", "S1"), ("s2", "S2"), ("s3", "S3 run"), ("seq", "1 run of 100x")]),
        ("single", [("state", "state"), ("version", "--version")]),
        ("engines", [("eng.podman", "podman run"), ("eng.ctr", "ctr run"), ("eng.cri", "CRI pod"),
                     ("eng.docker", "docker run")]),
    ]
    panels = [(n, ks) for n, ks in panels if any(med(k, rt) is not None for k, _ in ks for rt in runtimes)]
    if not panels:
        return
    for name, keys in panels:
        with open(os.path.join(out, f".plot-{name}.dat"), "w") as f:
            f.write("scenario " + " ".join(runtimes) + "\n")
            for key, label in keys:
                vals = []
                for rt in runtimes:
                    v = med(key, rt)
                    if v is not None and key == "seq":
                        v = v / nseq
                    vals.append("NaN" if v is None else f"{v / 1000:.3f}")
                f.write(f'"{label}" ' + " ".join(vals) + "\n")
    cols = ", ".join(f"f using {i + 2}:xtic(1) title columnheader({i + 2})" for i in range(len(runtimes)))
    script = f"""
set terminal svg size {450 * len(panels)},420 dynamic font 'sans,11'
set output '{out}/plot.svg'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top left
set yrange [0:*]
set ylabel 'median wall time (ms)'
set multiplot layout 1,{len(panels)} title 'husk vs runc vs crun (lower is better)'
"""
    titles = {"lifecycle": "container lifecycle", "single": "single commands", "engines": "through the engines"}
    for name, _ in panels:
        script += f"f = '{out}/.plot-{name}.dat'\nset title '{titles[name]}'\nplot {cols}\n"
    script += "unset multiplot\n"
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    for name, _ in panels:
        os.remove(os.path.join(out, f".plot-{name}.dat"))


if __name__ == "__main__":
    main(sys.argv[1])
