"""The release build at scale: time per stage and peak memory, beside pySHACL as the baseline.

For each size (default 10,000 and 100,000 generated records) it runs, each in
its own process so that peak memory is its own:

- read: the reader alone; map: reading and mapping to N-Triples lines;
- build: ``senacs-kg build`` (read, map and validate stream together, the shapes
  validated as SPARQL on Oxigraph in worker processes; then write: sort, gzip,
  gzipped Turtle and JSON-LD; tables: CSV and Parquet from the dump; network; manifest), and
  what the release weighs, by part (issue #18: at most 10 GB at 1,000,000 records);
- load: the release loaded into the server's store as `serve` loads it (endpoint/store.py:
  its dataset.nt.gz in one piece per core, then compacted);
- baseline: pySHACL validating the whole graph at once (the reference
  validator), at sizes up to --pyshacl-max records (it needs minutes and GBs
  beyond that; the time is then extrapolated from the largest size measured and
  marked so).

Target (issues #4 and #15): 100,000 records built, validated and written in under
3 minutes with peak memory under 2 GiB on the 2-core machine. With --national, each
size is also built from a national export (structures in every department, placed by
the gazetteer, bodies resolved across France: tests/national.py), printed beside the
Haute-Garonne build of the same size as its baseline.

    python benchmarks/bench_build.py
    python benchmarks/bench_build.py --records 1000 10000 --pyshacl-max 10000
    python benchmarks/bench_build.py --records 100000 --national --pyshacl-max 0
    python benchmarks/bench_build.py --records 1000000 --build-only   # issue #17's 1M target
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _peak_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def stage(name: str, source: Path, work: Path) -> dict:
    """Run one stage in this process and return its figures."""
    from mapping import ntriples as nt
    from mapping.mapper import Mapper
    from mapping.reader import ExportFile

    start = time.perf_counter()
    out: dict = {}
    if name == "read":
        out["records"] = sum(1 for _ in ExportFile(source).records())
    elif name == "map":
        mapper, lines = Mapper(), 0
        for record in ExportFile(source).records():
            lines += len([nt.line(t) for t in mapper.map_record(record)[1]])
        out["triples"] = lines
    elif name == "build":
        from mapping.build import BuildConfig, build

        outcome = build(BuildConfig(sources=[source], out=work / "release", progress=False))
        assert outcome.published, outcome.reason
        out["timings"] = outcome.timings
        out["violations"], out["warnings"] = outcome.violations, outcome.warnings
    elif name == "load":
        import pyoxigraph as ox

        from endpoint.store import prepare_store
        from mapping.vocab import DEFAULT_BASE

        prepare_store(work / "release", work / "store", DEFAULT_BASE, verify=False)
        out["quads"] = len(ox.Store.read_only(str(work / "store")))
    elif name == "baseline":
        from rdflib import Graph

        from mapping.build import shapes_text
        from mapping.shacl import validate
        from mapping.vocab import DEFAULT_BASE

        with gzip.open(work / "release" / "dataset.nt.gz", "rb") as dump:
            graph = Graph().parse(source=dump, format="nt")
        parsed = time.perf_counter()
        validate(graph, Graph().parse(data=shapes_text(DEFAULT_BASE), format="turtle"),
                 engine="pyshacl")
        out["parse_seconds"] = parsed - start
        out["validate_seconds"] = time.perf_counter() - parsed
    out["seconds"] = time.perf_counter() - start
    out["peak_mb"], out["children_peak_mb"] = _peak_mb()
    return out


def run_stage(name: str, source: Path, work: Path) -> dict:
    result = subprocess.run([sys.executable, __file__, "--stage", name, str(source), str(work)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"stage {name} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def national_build(n: int, workdir: Path, haute_garonne: dict) -> None:
    """The same size from a national export, beside the Haute-Garonne build as baseline."""
    from common import national

    source = national(n, workdir)
    work = workdir / f"work_national_{n}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    built = run_stage("build", source, work)
    t, peak = built["timings"], max(built["peak_mb"], built["children_peak_mb"])
    print(f"  national build  {built['seconds']:7.1f} s  = read+map+validate "
          f"{t['read, map, validate']:.1f} s + write {t['write']:.1f} s + tables "
          f"{t.get('tables', 0):.1f} s + network {t.get('network', 0):.1f} s;  peak main "
          f"{built['peak_mb']:.0f} MB, largest child {built['children_peak_mb']:.0f} MB  "
          f"({built['violations']} violations)  vs Haute-Garonne {haute_garonne['seconds']:.1f} s "
          f"({built['seconds'] / haute_garonne['seconds']:.2f}x)")
    if n >= 100_000:
        met = built["seconds"] < 180 and peak < 2048
        print(f"  target, national (100,000 records < 180 s, < 2 GiB): {'met' if met else 'NOT met'}")


def _generated_and_work(n: int, workdir: Path) -> tuple[Path, Path]:
    """The generated export of ``n`` records (made once) and an empty work folder for it."""
    from common import generated  # not at the top: a --stage process measures its own memory

    source = generated(n, workdir)
    work = workdir / f"work_{n}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    return source, work


# the parts of a release whose weight is printed, by file name (the first that matches)
PARTS = (("dataset.nt", lambda name: name == "dataset.nt"),  # plain before #18's last part
         ("dataset.nt.gz", lambda name: name == "dataset.nt.gz"),
         ("subjects.txt", lambda name: name == "subjects.txt"),
         # gzipped since issue #18, plain before: a release of either kind is measured
         ("Turtle", lambda name: name in ("dataset.ttl", "dataset.ttl.gz")),
         ("JSON-LD", lambda name: name in ("dataset.jsonld", "dataset.jsonld.gz")),
         ("tables csv", lambda name: name.startswith("tables/") and name.endswith(".csv")),
         ("tables parquet", lambda name: name.endswith(".parquet")),
         ("other", lambda name: True))


def release_parts(folder: Path) -> str:
    """The release's weight by part (MB), in one line."""
    sizes = dict.fromkeys((part for part, _ in PARTS), 0)
    for path in folder.rglob("*"):
        if path.is_file():
            name = path.relative_to(folder).as_posix()
            sizes[next(part for part, matches in PARTS if matches(name))] += path.stat().st_size
    return ", ".join(f"{part} {size / 1e6:,.0f}" for part, size in sizes.items()) + " MB"


def build_only(n: int, workdir: Path) -> None:
    """Only the build, for the sizes where the other stages would cost more time than they
    tell (issue #17: 1,000,000 records in under 30 minutes and 4 GiB)."""
    source, work = _generated_and_work(n, workdir)
    print(f"\n== {n:,} records ({source.stat().st_size / 1e6:.0f} MB of text), build only")
    built = run_stage("build", source, work)
    t, peak = built["timings"], max(built["peak_mb"], built["children_peak_mb"])
    size = sum(p.stat().st_size for p in (work / "release").rglob("*") if p.is_file())
    print(f"  build           {built['seconds']:7.1f} s  = read+map+validate "
          f"{t['read, map, validate']:.1f} s + write {t['write']:.1f} s + tables "
          f"{t.get('tables', 0):.1f} s + network {t.get('network', 0):.1f} s;  peak main "
          f"{built['peak_mb']:.0f} MB, largest worker {built['children_peak_mb']:.0f} MB; "
          f"release {size / 1e9:.1f} GB")
    print(f"  release by part: {release_parts(work / 'release')}")
    limit_s, limit_mb = (1800, 4096) if n >= 1_000_000 else (180, 2048)
    met = built["seconds"] < limit_s and peak < limit_mb
    print(f"  target ({n:,} records < {limit_s // 60} min, < {limit_mb // 1024} GiB): "
          f"{'met' if met else 'NOT met'}")


def bench(n: int, workdir: Path, pyshacl_max: int, baseline_rate: list[float],
          with_national: bool = False) -> None:
    source, work = _generated_and_work(n, workdir)
    print(f"\n== {n:,} records ({source.stat().st_size / 1e6:.0f} MB of text)")
    read = run_stage("read", source, work)
    mapped = run_stage("map", source, work)
    built = run_stage("build", source, work)
    loaded = run_stage("load", source, work)
    size = sum(p.stat().st_size for p in (work / "release").rglob("*") if p.is_file())
    store = sum(p.stat().st_size for p in (work / "store").rglob("*") if p.is_file())
    t = built["timings"]
    print(f"  read            {read['seconds']:7.1f} s  {n / read['seconds']:9,.0f} records/s  "
          f"peak {read['peak_mb']:6.0f} MB")
    print(f"  read+map        {mapped['seconds']:7.1f} s  {n / mapped['seconds']:9,.0f} records/s  "
          f"peak {mapped['peak_mb']:6.0f} MB  ({mapped['triples']:,} triples before dedup)")
    print(f"  build           {built['seconds']:7.1f} s  = read+map+validate "
          f"{t['read, map, validate']:.1f} s + write {t['write']:.1f} s + tables "
          f"{t.get('tables', 0):.1f} s + network {t.get('network', 0):.1f} s;  peak main "
          f"{built['peak_mb']:.0f} MB, largest worker {built['children_peak_mb']:.0f} MB  "
          f"({built['violations']} violations, {built['warnings']} warnings)")
    print(f"  load (Oxigraph) {loaded['seconds']:7.1f} s  {loaded['quads']:,} triples  peak "
          f"{loaded['peak_mb']:.0f} MB; release {size / 1e6:.0f} MB, store {store / 1e6:.0f} MB")
    print(f"  release by part: {release_parts(work / 'release')}")
    if n <= pyshacl_max:
        base = run_stage("baseline", source, work)
        baseline_rate.append(base["validate_seconds"] / n)
        print(f"  baseline pySHACL, whole graph: {base['validate_seconds']:.1f} s to validate "
              f"(+ {base['parse_seconds']:.1f} s to parse), peak {base['peak_mb']:.0f} MB  -> "
              f"our read+map+validate is {base['validate_seconds'] / t['read, map, validate']:.1f}x "
              "faster than its validation alone")
    elif baseline_rate:
        guess = baseline_rate[-1] * n
        print(f"  baseline pySHACL, whole graph: not run above {pyshacl_max:,} records; "
              f"at its measured {baseline_rate[-1] * 1000:.1f} ms/record it would take "
              f"≥ {guess:.0f} s (extrapolated, linear: a lower bound)")
    target = "met" if n < 100_000 or (built["seconds"] < 180 and max(
        built["peak_mb"], built["children_peak_mb"]) < 2048) else "NOT met"
    if n >= 100_000:
        print(f"  target (100,000 records < 180 s, < 2 GiB): {target}")
    if with_national:
        national_build(n, workdir, built)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--stage":
        print(json.dumps(stage(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=lambda s: int(float(s)), nargs="+",
                        default=[10_000, 100_000])
    parser.add_argument("--pyshacl-max", type=lambda s: int(float(s)), default=10_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--national", action="store_true",
                        help="also build each size from a national export (tests/national.py)")
    parser.add_argument("--build-only", action="store_true",
                        help="only the build stage (no read, map, load or pySHACL stages)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="senacs-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rates: list[float] = []
    for n in sorted(args.records):
        if args.build_only:
            build_only(n, workdir)
            continue
        bench(n, workdir, args.pyshacl_max, rates, args.national)


if __name__ == "__main__":
    main()
