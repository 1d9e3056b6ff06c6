"""The store's load (endpoint/loader.py): in the server's process, as before, against the
child process on glibc's allocator and on jemalloc, over the same release in the same run.

For each way, in turn (--runs times each, interleaved, so that the machine's drift falls on
all of them alike): the wall time of the whole load (dump, ontology, compaction), the CPU
time it took, and the memory the *server's* process still holds once the load is over
(resident set, beyond what it held before). "in process" runs ``loader.fill`` in a process
standing for the server, as the server did before; the two others run ``loader.load`` from
this process, which stands for the server and does nothing else.

    apt-get install libjemalloc2   # for the jemalloc row
    python benchmarks/bench_store_load.py                 # 100,000 generated records
    python benchmarks/bench_store_load.py --records 10000 --runs 1
    python benchmarks/bench_store_load.py --release DIR   # any release folder
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, release_of

sys.path.insert(0, str(ROOT))
from endpoint import loader  # noqa: E402
from mapping import release as layout  # noqa: E402
from mapping.vocab import DEFAULT_BASE as BASE  # noqa: E402


def resident() -> int:
    with open("/proc/self/statm", encoding="utf-8") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def in_process(release: Path, staged: Path) -> dict:
    """The load as the server ran it before: in its own process (this script run again with
    --fill stands for the server)."""
    done = subprocess.run([sys.executable, __file__, "--fill", str(release), str(staged)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def fill_here(release: Path, staged: Path) -> None:
    """--fill: ``loader.fill`` in this process; its figures as JSON on stdout."""
    before = resident()
    start = time.perf_counter()
    loader.fill(release, staged, BASE, layout.read_manifest(release))
    wall = time.perf_counter() - start
    use = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"wall": wall, "cpu": use.ru_utime + use.ru_stime,
                      "held": resident() - before}))


def in_child(release: Path, staged: Path, allocator: str) -> dict:
    """The load as the server runs it now: a child on ``allocator``, followed from here."""
    before_use = resource.getrusage(resource.RUSAGE_CHILDREN)
    before_held = resident()
    start = time.perf_counter()
    loaded = loader.load(release, staged, BASE, layout.read_manifest(release),
                         allocator=allocator)
    wall = time.perf_counter() - start
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    if loaded.allocator != allocator:
        raise SystemExit(f"the loader ran on {loaded.allocator}, not {allocator}")
    return {"wall": wall, "cpu": use.ru_utime + use.ru_stime - before_use.ru_utime
            - before_use.ru_stime, "held": max(resident() - before_held, 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--release", type=Path, help="a release folder (else one is built)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="keeps the generated release")
    parser.add_argument("--fill", nargs=2, type=Path, metavar=("RELEASE", "STORE"),
                        help=argparse.SUPPRESS)  # the in-process way, run by in_process
    args = parser.parse_args()
    if args.fill:
        fill_here(*args.fill)
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_store_load_"))
    workdir.mkdir(parents=True, exist_ok=True)
    release = args.release or release_of(args.records, workdir)
    ways = {"in process (before)": lambda staged: in_process(release, staged),
            "child, glibc": lambda staged: in_child(release, staged, "system")}
    if loader.jemalloc():
        ways["child, jemalloc"] = lambda staged: in_child(release, staged, "jemalloc")
    else:
        print("  jemalloc: not on this system (apt-get install libjemalloc2): row left out")
    size = (release / layout.DUMP_GZ).stat().st_size
    print(f"  release {release} ({size / 1e6:,.0f} MB dump), {args.runs} run(s) of each way, "
          f"{os.cpu_count()} cores")
    figures: dict[str, list[dict]] = {way: [] for way in ways}
    for run in range(args.runs):
        for way, load in ways.items():
            staged = workdir / "bench_store"
            shutil.rmtree(staged, ignore_errors=True)
            os.sync()  # the last run's store written out: not on this run's time
            figures[way].append(load(staged))
            shutil.rmtree(staged, ignore_errors=True)
            print(f"  run {run + 1} {way}: {figures[way][-1]['wall']:.1f} s", flush=True)
    base = statistics.median(f["wall"] for f in figures["in process (before)"])
    print(f"\n  {'way':<22}{'wall (s), median (min)':>24}{'CPU (s)':>10}{'vs before':>11}"
          f"{'server holds after (MB)':>26}")
    for way, runs in figures.items():
        wall = statistics.median(f["wall"] for f in runs)
        print(f"  {way:<22}{wall:>14.1f} ({min(f['wall'] for f in runs):.1f})"
              f"{statistics.median(f['cpu'] for f in runs):>10.1f}"
              f"{(wall - base) / base * 100:>+10.0f}%"
              f"{statistics.median(f['held'] for f in runs) / 1e6:>26,.0f}")


if __name__ == "__main__":
    main()
