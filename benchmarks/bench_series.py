"""A release series at scale (issue #16): N campaigns published into one series, the diff of
its two last releases, and the series served, each figure beside its target.

The campaigns are generated (tests/campaigns.py), each from the one before as a new campaign
differs from the last: 3 % of the records removed, 3 % added, 10 % edited, one structure
renamed (declared in a renames file, ``since`` that campaign) and every record in another order.
Every campaign holds exactly ``--records`` records (1 % of them twins: the structure and title of
another record, another text). The generator renames a structure that has twins, so it renames
the same one again while it keeps them: a chain of renames (A became B, then C…), which the
series follows. Campaign i is release ``2016 + i``, dated June 1st; it is the same whatever the
number of campaigns.

1. **Builds**: each campaign published with ``senacs-kg build --series`` into one series: its
   wall time and peak memory (the first build is the baseline: one release), the time its
   changeset took (the build's ``changes`` step), the release's disk use and its changeset's.
2. **Diff**: ``senacs-kg diff`` of the two last releases with ``--out``, in a process of its own:
   wall time and peak memory. Target: ≤ 60 s and ≤ 1 GiB at 100,000 records.
3. **Serving** (benchmarks/bench_series_serve.py): every release's store made (time, peak
   memory, disk use); ``senacs-kg serve --series`` started until ``/healthz`` answers, stores
   on disk (target ≤ 5 s), beside ``serve --release`` of the latest release; queries of the
   example catalogue pinned to the first release (``/release/{id}/sparql``) against the same
   queries on ``serve --release`` of that release, every answer cache off, both servers up and
   their requests alternated, the median of ``--repeat`` (target: no more than the release
   alone, within ``--tolerance`` for the noise of a shared machine).

Then a summary table to paste into README.md.

Resumable: ``--workdir W`` keeps everything in ``W/{records}-records/`` (the campaigns, the
series, the stores, the figures of the builds and stores already made). Run again with the same
``--workdir``, it builds only the releases the series lacks (a build that died is built again),
makes only the missing stores, and measures the diff and the serving again. ``--skip-build``
measures the series as it is. A larger ``--campaigns`` extends a series (campaign i is the same
whatever the count).

    python benchmarks/bench_series.py                                  # 3 campaigns of 10,000
    python benchmarks/bench_series.py --campaigns 10 --records 100000 --workdir /var/tmp/series
    python benchmarks/bench_series.py --records 100000 --workdir /var/tmp/series --skip-build
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # campaigns.py

from common import disk_use, measured  # noqa: E402

DIFF_SECONDS, DIFF_MB = 60, 1024
TARGET_RECORDS = 100_000  # the size the targets are set for
FIRST_YEAR = 2016  # campaign i is release FIRST_YEAR + i
REMOVED, ADDED, EDITED = 0.03, 0.03, 0.10  # of the records, from one campaign to the next
FIGURES = "figures.json"


# -- the work folder -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Work:
    """Where one size's run keeps its files: all of them under ``root``."""

    root: Path
    records: int

    @property
    def campaigns(self) -> Path:
        return self.root / "campaigns"

    @property
    def renames(self) -> Path:
        return self.campaigns / "renames.csv"

    @property
    def series(self) -> Path:
        return self.root / "series"

    @property
    def stores(self) -> Path:
        return self.root / "stores"

    @property
    def changes(self) -> Path:
        return self.root / "changes"

    def source(self, release_id: str) -> Path:
        return self.campaigns / f"senacs-{release_id}.txt"

    def figures(self) -> dict:
        """What earlier runs measured that is not measured again (builds, stores)."""
        path = self.root / FIGURES
        if not path.is_file():
            return {"builds": {}, "stores": {}}
        return json.loads(path.read_text(encoding="utf-8"))

    def keep(self, figures: dict) -> None:
        """The figures saved in one step (a run stopped mid-write leaves the previous ones)."""
        staged = self.root / f".{FIGURES}.new"
        staged.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
        os.replace(staged, self.root / FIGURES)


def release_ids(count: int) -> list[str]:
    return [str(FIRST_YEAR + i) for i in range(count)]


def published(series: Path) -> list[str]:
    """The releases series.json lists, in order (none before the first publication)."""
    path = series / "series.json"
    if not path.is_file():
        return []
    return [entry["id"] for entry in json.loads(path.read_text(encoding="utf-8"))["releases"]]


# -- the campaigns -------------------------------------------------------------------------------


def campaigns(work: Work, count: int) -> None:
    """The ``count`` campaigns' exports and the renames file, generated once, in a process of
    its own (this one stays small: its peak is a floor under every measured peak)."""
    marker = work.campaigns / "campaigns.json"
    if marker.is_file() and json.loads(marker.read_text())["campaigns"] >= count:
        return
    print(f"generating {count} campaigns of {work.records:,} records in {work.campaigns}",
          flush=True)
    subprocess.run([sys.executable, __file__, "--generate", str(work.records), str(count),
                    str(work.root)], check=True)


def generate(records: int, count: int, root: Path) -> None:
    """Write the campaigns (each from the one before: the same campaign i whatever ``count``)
    and the renames file that declares every campaign's rename."""
    from campaigns import first_campaign, next_campaign

    work = Work(root, records)
    work.campaigns.mkdir(parents=True, exist_ok=True)
    twins = max(1, records // 100)
    campaign = first_campaign(records - twins, twins=twins)
    renamed: dict[str, str] = {}  # a structure line no longer used → the line it became
    rows = []
    for i, release_id in enumerate(release_ids(count)):
        if i:
            campaign = next_campaign(campaign, seed=5 + i, removed=int(records * REMOVED),
                                     added=int(records * ADDED), edited=int(records * EDITED))
            old, new = campaign.renamed
            line = next(e.structure_line for e in campaign.entries if e.fate == "renamed")
            department = line[2:].rsplit(" - ", 1)[1]
            renamed[f"- {old} - {department}"] = line
            renamed = {gone: renamed.get(now, now) for gone, now in renamed.items()}
            campaign = _under_current_names(campaign, renamed)
            rows.append([old, department, new, release_id, "benchmarks/bench_series.py"])
        _write_once(campaign, work.source(release_id))
    with work.renames.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["old_name", "department", "new_name", "since", "source"])
        writer.writerows(rows)
    (work.campaigns / "campaigns.json").write_text(
        json.dumps({"records": records, "campaigns": count}) + "\n", encoding="utf-8")


def _under_current_names(campaign, renamed: dict[str, str]):
    """The campaign with no record under a name an earlier campaign renamed away: a new record
    generated under such a name is put under the name its structure has now (a build whose
    records name one renamed structure both ways is refused)."""
    from dataclasses import replace

    entries = []
    for entry in campaign.entries:
        now = renamed.get(entry.structure_line)
        if now is not None:
            entry = replace(entry, text=entry.text.replace(f"\n{entry.structure_line}\n",
                                                           f"\n{now}\n", 1))
        entries.append(entry)
    return replace(campaign, entries=entries)


def _write_once(campaign, path: Path) -> None:
    """The campaign's export, unless an earlier run wrote it (the same bytes): written beside
    and renamed, so that a file there is always whole."""
    if path.is_file():
        return
    staged = campaign.write(path.with_suffix(".txt.new"))
    os.replace(staged, path)


# -- 1. the builds -------------------------------------------------------------------------------


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mapping.cli", *args]


def build_series(work: Work, ids: list[str], figures: dict) -> None:
    """Publish every campaign the series lacks, in order; each build's figures kept at once."""
    work.series.mkdir(parents=True, exist_ok=True)
    held = published(work.series)
    for release_id in ids:
        if release_id in held:
            continue
        _check_space(work, held)
        print(f"building {release_id} …", end=" ", flush=True)
        seconds, peak, done = measured(cli(
            "build", str(work.source(release_id)), "--series", str(work.series),
            "--release-id", release_id, "--release-date", f"{release_id}-06-01",
            "--renames", str(work.renames)))
        figures["builds"][release_id] = {"seconds": seconds, "peak_mb": peak,
                                         "steps": build_steps(done.stderr)}
        work.keep(figures)
        held.append(release_id)
        print(f"{seconds:.1f} s, peak {peak:,.0f} MB; the release takes "
              f"{size(disk_use(work.series / release_id))}, "
              f"{size(shutil.disk_usage(work.series).free)} left free", flush=True)


def _check_space(work: Work, held: list[str]) -> None:
    """Stop before a build that would fill the disk (it stages a whole release and its
    changeset): at least twice the last release's size must be free."""
    if not held:
        return
    needed = 2 * disk_use(work.series / held[-1])
    free = shutil.disk_usage(work.series).free
    if free < needed:
        raise SystemExit(f"{work.series}: {free / 1e9:.1f} GB free, a build needs about "
                         f"{needed / 1e9:.1f} GB; free some space or use another --workdir "
                         "(the run resumes where it stopped)")


def build_steps(stderr: str) -> dict[str, float]:
    """The build's own timings ("…; read, map, validate 1.5 s, write 0.8 s, changes 0.2 s")."""
    line = next((line for line in stderr.splitlines() if "; " in line and line.endswith(" s")), "")
    return {name: float(value)
            for name, value in re.findall(r"([a-z][a-z, ]*?) (\d+(?:\.\d+)?) s(?:, |$)",
                                          line.split("; ", 1)[-1])}


@dataclass(frozen=True)
class Release:
    """One published release: what its manifest and its folder say."""

    id: str
    records: int
    triples: int
    bytes: int  # the release folder on disk, its changeset included
    changes_bytes: int
    changes: dict  # the manifest's counts of the changeset (empty for the first release)


def release_of(work: Work, release_id: str) -> Release:
    folder = work.series / release_id
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return Release(release_id, sum(i.get("records", 0) for i in manifest.get("inputs", [])),
                   manifest["triples"], disk_use(folder), disk_use(folder / "changes"),
                   manifest.get("changes", {}))


# -- 2. the diff -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Diff:
    old: str
    new: str
    seconds: float
    peak_mb: float
    resources: int  # lines printed, one per resource added, removed or changed
    summary: str  # its stderr line
    bytes: int  # the changeset it wrote


def diff_last(work: Work, old: str, new: str) -> Diff:
    shutil.rmtree(work.changes, ignore_errors=True)
    print(f"diff {old} → {new} …", end=" ", flush=True)
    seconds, peak, done = measured(cli("diff", str(work.series / old), str(work.series / new),
                                       "--out", str(work.changes)))
    print(f"{seconds:.1f} s", flush=True)
    return Diff(old, new, seconds, peak, len(done.stdout.splitlines()), done.stderr.strip(),
                disk_use(work.changes))


# -- the report ----------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def size(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def print_builds(work: Work, releases: list[Release], figures: dict) -> None:
    print(f"\n== {len(releases)} releases of {work.records:,} records a campaign "
          f"({work.series})\n")
    print("| release | records | triples | triples +/− | build | build peak | changeset | "
          "release on disk | its changeset | store | store on disk |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in releases:
        build = figures["builds"].get(r.id)
        store = figures["stores"].get(r.id)
        steps = build["steps"] if build else {}
        delta = (f"+{r.changes['triples_added']:,} −{r.changes['triples_removed']:,}"
                 if r.changes else "(first)")
        print(f"| {r.id} | {r.records:,} | {r.triples:,} | {delta} | "
              + (f"{build['seconds']:.1f} s | {build['peak_mb']:,.0f} MB | " if build
                 else "(not measured) | | ")
              + (f"{steps['changes']:.1f} s | " if "changes" in steps and r.changes else "— | ")
              + f"{size(r.bytes)} | {size(r.changes_bytes) if r.changes else '—'} | "
              + (f"{store['seconds']:.1f} s | " if store else "| ")
              + f"{size(disk_use(work.stores / r.id))} |")
    total = sum(r.bytes for r in releases)
    print(f"\nseries on disk: {size(total)} ({size(total / len(releases))} a release; "
          f"changesets {size(sum(r.changes_bytes for r in releases))}); stores "
          f"{size(disk_use(work.stores))}; campaigns' exports {size(disk_use(work.campaigns))}")


def print_diff(diff: Diff, records: int) -> None:
    print(f"\n`senacs-kg diff {diff.old} {diff.new} --out`: {diff.seconds:.1f} s "
          f"(target ≤ {DIFF_SECONDS} s: {verdict(diff.seconds <= DIFF_SECONDS)}), peak "
          f"{diff.peak_mb:,.0f} MB (target ≤ {DIFF_MB:,} MB: {verdict(diff.peak_mb <= DIFF_MB)}); "
          f"{diff.resources:,} resources reported, changeset {size(diff.bytes)}")
    print(f"  {diff.summary}")
    if records != TARGET_RECORDS:
        print(f"  (the targets are set for {TARGET_RECORDS:,} records a campaign; this run has "
              f"{records:,})")


def summary(work: Work, releases: list[Release], figures: dict, diff: Diff | None,
            serving, floor: float) -> None:
    """The table to paste into README.md: each figure, its target, met or not."""
    builds = [figures["builds"][r.id] for r in releases if r.id in figures["builds"]]
    later = [b["steps"]["changes"] for r, b in zip(releases, builds)
             if r.changes and "changes" in b["steps"]]
    total = sum(r.bytes for r in releases)
    print(f"\n== summary: {len(releases)} campaigns of {work.records:,} records\n")
    print(f"| {len(releases)} campaigns of {work.records:,} records | measured | target | |")
    print("|---|---|---|---|")
    if builds:
        print(f"| build of one campaign (median of {len(builds)}; the first: {builds[0]['seconds']:.0f} s) | "
              f"{statistics.median(b['seconds'] for b in builds):.0f} s, peak "
              f"{max(b['peak_mb'] for b in builds):,.0f} MB | | |")
    if later:
        print(f"| its changeset, within the build (median of {len(later)}) | "
              f"{statistics.median(later):.1f} s | | |")
    print(f"| the series on disk | {size(total)} ({size(total / len(releases))} a release, "
          f"changesets {size(sum(r.changes_bytes for r in releases))}) | | |")
    if diff is not None:
        print(f"| `diff {diff.old} {diff.new} --out` | {diff.seconds:.1f} s | ≤ {DIFF_SECONDS} s | "
              f"{verdict(diff.seconds <= DIFF_SECONDS)} |")
        print(f"| its peak memory | {diff.peak_mb:,.0f} MB | ≤ {DIFF_MB:,} MB | "
              f"{verdict(diff.peak_mb <= DIFF_MB)} |")
    if serving is not None:
        for row in serving.rows():
            print(row)
    print(f"\n(each peak is the largest process of the command; this benchmark's own peak "
          f"before the serving part, {floor:.0f} MB, is a floor under it, inherited across exec)")


# -- the run -----------------------------------------------------------------------------------


def run(records: int, count: int, workdir: Path, build: bool = True, diff: bool = True,
        serve: bool = True, serve_options: dict | None = None) -> None:
    work = Work(workdir / f"{records}-records", records)
    work.root.mkdir(parents=True, exist_ok=True)
    figures = work.figures()
    if build:
        campaigns(work, count)
        build_series(work, release_ids(count), figures)
    held = published(work.series)
    if not held:
        raise SystemExit(f"{work.series}: no release published yet (run without --skip-build)")
    if len(held) > count:
        print(f"(the series holds {len(held)} releases, more than --campaigns {count}: "
              "all of them are measured)")
    pin = (serve_options or {}).get("pin")
    if serve and pin is not None and pin not in held:
        raise SystemExit(f"--pin {pin}: the series has no such release ({', '.join(held)})")
    releases = [release_of(work, r) for r in held]
    measured_diff = None
    if diff and len(held) >= 2:
        measured_diff = diff_last(work, held[-2], held[-1])
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    serving = None
    if serve:
        from bench_series_serve import measure_serving

        serving = measure_serving(work.series, work.stores, held, figures, work.keep,
                                  **(serve_options or {}))
    print_builds(work, releases, figures)
    if measured_diff is not None:
        print_diff(measured_diff, records)
    if serving is not None:
        serving.print_details()
    summary(work, releases, figures, measured_diff, serving, floor)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--generate":
        generate(int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--campaigns", type=int, default=3,
                        help="campaigns published into the series (default 3; the issue: 10)")
    parser.add_argument("--records", type=lambda s: int(float(s)), default=10_000,
                        help="records a campaign (default 10,000; the issue: 100,000)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep everything there and resume from it (default: a new "
                             "temporary folder, kept, whose path is printed)")
    parser.add_argument("--skip-build", action="store_true",
                        help="publish nothing: measure the series the work folder holds")
    parser.add_argument("--skip-serve", action="store_true",
                        help="no stores, no server: the builds and the diff only")
    parser.add_argument("--repeat", type=int, default=15, help="runs of each query (median)")
    parser.add_argument("--starts", type=int, default=3, help="server starts (median)")
    parser.add_argument("--pin", default=None, metavar="ID",
                        help="the release the queries are pinned to (default: the first)")
    parser.add_argument("--tolerance", type=float, default=0.10,
                        help="how much slower a pinned query may be and still count as no "
                             "slower: the noise of a shared machine (default 0.10)")
    args = parser.parse_args()
    if args.campaigns < 2 or args.records < 100:
        parser.error("at least 2 campaigns of 100 records")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="senacs-bench-series-"))
    print(f"work folder: {workdir} (run again with --workdir {workdir} to resume)", flush=True)
    run(args.records, args.campaigns, workdir, build=not args.skip_build,
        serve=not args.skip_serve,
        serve_options={"repeat": args.repeat, "starts": args.starts,
                       "tolerance": args.tolerance, "pin": args.pin})


if __name__ == "__main__":
    main()
