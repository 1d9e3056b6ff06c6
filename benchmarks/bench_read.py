"""Reading speed and memory of the export reader, against plain line iteration.

The floor is the cheapest thing any reader must do: iterate the file's lines as
decoded text. Both run on the same generated file in the same run, alternated,
each in its own process so that peak memory is its own. The target is a reader
within 2x of the floor, with memory flat in the number of records (compare the
two sizes printed).

    python benchmarks/bench_read.py              # 10,000 and 100,000 records
    python benchmarks/bench_read.py --records 1e6
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, generate_export

FLOOR = """
import json, resource, sys, time
t = time.perf_counter()
n = 0
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        n += 1
print(json.dumps({"seconds": time.perf_counter() - t, "units": n,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

READER = """
import json, resource, sys, time
from pathlib import Path
from mapping.reader import ExportFile
t = time.perf_counter()
export = ExportFile(Path(sys.argv[1]))
n = problems = 0
for record in export.records():
    n += 1
    problems += len(record.problems)
print(json.dumps({"seconds": time.perf_counter() - t, "units": n, "problems": problems,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(script: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", script, str(path)], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def generate(n: int, directory: Path) -> Path:
    return generate_export(n, 20261123, directory / f"gen_{n}.txt")


def measure(n: int, directory: Path, repeats: int) -> dict:
    path = generate(n, directory)
    floor, reader = [], []
    for _ in range(repeats):  # alternate, so machine noise hits both alike
        floor.append(run(FLOOR, path))
        reader.append(run(READER, path))
    f = statistics.median(r["seconds"] for r in floor)
    r = statistics.median(r["seconds"] for r in reader)
    path.unlink()
    return {
        "records": reader[0]["units"], "lines": floor[0]["units"],
        "floor_s": f, "reader_s": r, "ratio": r / f,
        "records_per_s": reader[0]["units"] / r,
        "floor_peak_mb": max(x["peak_mb"] for x in floor),
        "reader_peak_mb": max(x["peak_mb"] for x in reader),
        "problems": reader[0]["problems"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=lambda s: int(float(s)), action="append",
                    help="record counts to run (default: 10000 and 100000)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    sizes = args.records or [10_000, 100_000]
    print(f"{'records':>9} {'lines':>10} {'floor s':>8} {'reader s':>9} {'ratio':>6} "
          f"{'records/s':>10} {'floor MB':>9} {'reader MB':>10}")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            m = measure(n, Path(tmp), args.repeats)
            worst = max(worst, m["ratio"])
            print(f"{m['records']:>9} {m['lines']:>10} {m['floor_s']:>8.2f} {m['reader_s']:>9.2f} "
                  f"{m['ratio']:>5.2f}x {m['records_per_s']:>10.0f} {m['floor_peak_mb']:>9.0f} "
                  f"{m['reader_peak_mb']:>10.0f}")
            if m["problems"]:
                print(f"  note: {m['problems']} problems reported on generated input")
    print(f"target: reader within 2.00x of the floor; worst here {worst:.2f}x "
          f"({'met' if worst <= 2 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
