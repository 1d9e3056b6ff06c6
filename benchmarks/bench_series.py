"""A release series at scale: `senacs-kg diff` of two generated campaigns, beside one build.

Two campaigns of N generated records (default 10,000; tests/campaigns.py): the second has 2% of
the records removed, 3% added, 10% edited, one structure renamed (declared), and every record
in another order. Both are published into a series (`build --series`): the first build is the
baseline (one release, the time any campaign costs); the second also writes its changeset.
Then `senacs-kg diff` compares the two releases in a process of its own, whose wall time and
peak memory (its own maxrss, from wait4) are printed.

Target (issue #16): the diff of two 100,000-record releases in ≤ 60 s and ≤ 1 GiB, streamed
over the sorted dumps.

    python benchmarks/bench_series.py
    python benchmarks/bench_series.py --records 100000 --workdir /tmp/bench-series
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # campaigns.py

TARGET_SECONDS, TARGET_MB = 60, 1024


def campaigns(n: int, workdir: Path) -> tuple[Path, Path, Path]:
    """The two campaigns' exports and the renames file declaring the second's rename,
    generated once, in a process of its own (see :func:`measured`)."""
    first, second = workdir / f"senacs-{n}-2024.txt", workdir / f"senacs-{n}-2025.txt"
    renames = workdir / f"renames-{n}.csv"
    if not renames.exists():
        subprocess.run([sys.executable, __file__, "--generate", str(n), str(workdir)], check=True)
    return first, second, renames


def generate(n: int, workdir: Path) -> None:
    from campaigns import first_campaign, next_campaign

    first = first_campaign(n, twins=max(1, n // 100))
    second = next_campaign(first, removed=n // 50, added=max(1, n * 3 // 100), edited=n // 10)
    first.write(workdir / f"senacs-{n}-2024.txt")
    second.write(workdir / f"senacs-{n}-2025.txt")
    old, new = second.renamed
    (workdir / f"renames-{n}.csv").write_text(
        "old_name,department,new_name,since,source\n"
        f"{old},Haute-Garonne,{new},2025,bench_series\n", encoding="utf-8")


def measured(command: list[str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run a command; its wall time (s), its peak memory (MB) and what it wrote.

    The peak is the child's maxrss from wait4, which Linux carries across exec from the process
    that started it: this process is kept small (the campaigns are generated in another one),
    and its own peak is printed as the floor of every figure."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(command, proc.returncode, out.read(), err.read())
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    return seconds, usage.ru_maxrss / 1024, done


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mapping.cli", *args]


def bench(n: int, workdir: Path) -> None:
    first, second, renames = campaigns(n, workdir)
    series = workdir / f"series-{n}"
    shutil.rmtree(series, ignore_errors=True)
    print(f"\n== {n:,} records a campaign ({first.stat().st_size / 1e6:.0f} MB of text)")
    timings = []
    for release_id, source in (("2024", first), ("2025", second)):
        seconds, peak, done = measured(cli("build", str(source), "--series", str(series),
                                           "--release-id", release_id, "--renames", str(renames),
                                           "--release-date", f"{release_id}-06-01"))
        timings.append((seconds, peak, done.stderr.splitlines()[0]))
    manifest = json.loads((series / "2025" / "manifest.json").read_text())
    print(f"  build 2024 (baseline: one release)  {timings[0][0]:7.1f} s  peak main "
          f"{timings[0][1]:.0f} MB   [{timings[0][2].split('; ', 1)[1]}]")
    print(f"  build 2025 (+ its changeset)        {timings[1][0]:7.1f} s  peak main "
          f"{timings[1][1]:.0f} MB   [{timings[1][2].split('; ', 1)[1]}]")
    out = workdir / f"changes-{n}"
    shutil.rmtree(out, ignore_errors=True)
    seconds, peak, done = measured(cli("diff", str(series / "2024"), str(series / "2025"),
                                       "--out", str(out)))
    changes = manifest["changes"]
    triples = [json.loads((series / r / "manifest.json").read_text())["triples"]
               for r in ("2024", "2025")]
    print(f"  diff 2024 → 2025 (--out)            {seconds:7.1f} s  peak "
          f"{peak:.0f} MB   ({triples[0]:,} and {triples[1]:,} triples; "
          f"+{changes['triples_added']:,} −{changes['triples_removed']:,}; "
          f"{len(done.stdout.splitlines()):,} resources reported)")
    print(f"  {done.stderr.strip()}")
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"  changeset {size / 1e6:.1f} MB; diff at {triples[0] + triples[1]:,} lines read "
          f"= {(triples[0] + triples[1]) / seconds / 1e6:.2f} M lines/s; "
          f"{seconds / timings[0][0] * 100:.0f}% of one build")
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  (peaks include this benchmark's own {floor:.0f} MB, inherited across exec)")
    if n >= 100_000:
        met = seconds <= TARGET_SECONDS and peak <= TARGET_MB
        print(f"  target (100,000 records: diff ≤ {TARGET_SECONDS} s, ≤ 1 GiB): "
              f"{'met' if met else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    if len(sys.argv) == 4 and sys.argv[1] == "--generate":
        generate(int(sys.argv[2]), Path(sys.argv[3]))
        return
    parser.add_argument("--records", type=lambda s: int(float(s)), nargs="+", default=[10_000])
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the generated campaigns there (default: a temporary folder)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="senacs-bench-series-"))
    workdir.mkdir(parents=True, exist_ok=True)
    for n in sorted(args.records):
        bench(n, workdir)


if __name__ == "__main__":
    main()
