"""Scale: the whole build and serve at 100,000 and 1,000,000 records, side by side.

For each size: generate the records, build the release (time per stage, peak
memory of the main process and of the largest validation worker), serve it
under gunicorn (time to load the on-disk store, its size, the server's peak
memory), and run the researcher query mix of bench_queries.py with the answer
cache off (median of 3 after a first request, which is shown apart). The last
column is the growth per record: 1.0 means the cost grew linearly.

Target (issue #8): cost linear in records; 1,000,000 records built in under 30
minutes with peak memory under 4 GiB on the 2-core machine.

    python benchmarks/bench_scale.py                      # 100k and 1M: about an hour
    python benchmarks/bench_scale.py --records 10000 100000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import requests
from bench_build import run_stage
from bench_queries import MIX, ask
from common import generated, serve_gunicorn, stop


def _tree_peak_mb(pid: int) -> float:
    """The largest peak resident memory (VmHWM) among a process and its descendants."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    peak, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            for line in (Path("/proc") / str(current) / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            continue
    return peak


def _size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def measure(n: int, workdir: Path) -> dict:
    start = time.monotonic()
    fresh = not (workdir / f"gen_{n}.txt").exists()
    source = generated(n, workdir)
    figures: dict = {"generate": time.monotonic() - start if fresh else None}
    work = workdir / f"scale_{n}"
    work.mkdir(exist_ok=True)
    built = run_stage("build", source, work)
    figures.update({f"build: {k}": v for k, v in built["timings"].items()})
    figures["build (whole)"] = built["seconds"]
    figures["build peak MB (main)"] = built["peak_mb"]
    figures["build peak MB (worker)"] = built["children_peak_mb"]
    figures["release MB"] = _size_mb(work / "release")
    start = time.monotonic()
    root, proc = serve_gunicorn(work / "release", work / "store", 1, 8, CACHE_ENTRIES=0,
                                CACHE_DISK_MB=0, WARM_CACHE=False, QUERY_TIMEOUT=600,
                                ROW_CAP=100000)
    figures["serve: load store"] = time.monotonic() - start
    figures["store MB"] = _size_mb(work / "store")
    try:
        session = requests.Session()
        for name in MIX:
            first = ask(root + "/sparql", name, session)
            rest = [ask(root + "/sparql", name, session) for _ in range(3)]
            figures[f"query first: {name}"] = first
            figures[f"query median: {name}"] = statistics.median(rest)
        figures["serve peak MB"] = _tree_peak_mb(proc.pid)
    finally:
        stop(proc)
    return figures


def report(results: dict[int, dict]) -> None:
    sizes = sorted(results)
    print("\n" + f"{'':34}" + "".join(f"{n:>16,}" for n in sizes)
          + ("   growth per record" if len(sizes) > 1 else ""))
    for key in results[sizes[0]]:
        values = [results[n].get(key) for n in sizes]
        unit = "" if "MB" in key else (" ms" if key.startswith("query") else " s")
        scale = 1000 if key.startswith("query") else 1
        cells = "".join(f"{v * scale:13.1f}{unit:3}" if v is not None else f"{'-':>16}"
                        for v in values)
        growth = ""
        if len(sizes) > 1 and values[0] and values[-1]:
            growth = f"   {(values[-1] / values[0]) / (sizes[-1] / sizes[0]):6.2f}"
        print(f"{key:34}{cells}{growth}")
    big = results[sizes[-1]]
    if sizes[-1] >= 1_000_000:
        peak = max(big["build peak MB (main)"], big["build peak MB (worker)"])
        ok = big["build (whole)"] < 1800 and peak < 4096
        print(f"\ntarget ({sizes[-1]:,} records built in < 30 min, peak < 4 GiB): "
              f"{big['build (whole)'] / 60:.1f} min, {peak:.0f} MB: {'met' if ok else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=lambda s: int(float(s)), nargs="+",
                        default=[100_000, 1_000_000])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="senacs-bench-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = {}
    for n in sorted(args.records):
        print(f"== {n:,} records ...", flush=True)
        results[n] = measure(n, workdir)
        report(results)


if __name__ == "__main__":
    main()
