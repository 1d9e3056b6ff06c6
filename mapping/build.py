"""The release build: read → map → validate → write, atomically.

Records stream through: each batch of records is mapped in this process and
validated in worker processes (the two cores work at once), while its lines
go to an external sort. Only when every batch has been validated and no
sh:Violation was found are the dumps written and the release published (see
``mapping/release.py``). A refused build publishes nothing: its report goes
to ``OUT.refused/`` and the previous release stays.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from importlib import metadata as importlib_metadata
from pathlib import Path

from rdflib import Graph

from mapping import diff, lifetime, metadata, ontology_doc, release, shacl, tables
from mapping import ntriples as nt
from mapping.concepts import load_ontology_text
from mapping.identity import Renames
from mapping.mapper import Mapper, plan_names, vocabulary_graph
from mapping.paths import EXAMPLES_FILE, SHAPES_DIR
from mapping.reader import ExportFile
from mapping.reference import Reference, source_info
from mapping.vocab import DEFAULT_BASE, Iris, hash_name, part_of, rebase

SHAPES_FILE = "senacs.shapes.ttl"
ONTOLOGY_FILES = ("senacs.ttl", "form.ttl", "schemes.ttl")
REPORT = "build-report.json"
SUMMARY = "summary.txt"
SHACL_REPORT = "shacl-report.ttl"


@dataclass
class BuildConfig:
    sources: list[Path]
    out: Path
    base: str = DEFAULT_BASE
    encoding: str | None = None
    engine: str = "sparql"  # or "pyshacl", the reference
    batch_size: int = 500
    workers: int = max(1, min(2, os.cpu_count() or 1))
    allow_input_errors: bool = False
    release_date: str | None = None  # ISO date from configuration; never the clock
    progress: bool | None = None  # None: only when stderr is a terminal
    dataset_info: metadata.MetadataConfig = field(default_factory=metadata.MetadataConfig)
    # Series mode (mapping/series.py): the release's id (which renames apply), a renames file
    # other than data/reference/overrides/renames.csv, a step that writes more files into the
    # staged release before its catalog and manifest (the changeset, given the staged release
    # and its plain canonical dump) and returns manifest fields, and the release's place in
    # its series, which its catalog and VoID say.
    release_id: str | None = None
    renames: Path | None = None
    finish: Callable[[Path, Path], dict] | None = None
    in_series: metadata.SeriesRelease | None = None

    def __post_init__(self) -> None:
        if self.release_date and not self.dataset_info.release_date:
            self.dataset_info.release_date = self.release_date


@dataclass
class BuildOutcome:
    published: bool
    folder: Path  # the release, or the refused report folder
    records: int
    violations: int
    warnings: int
    input_errors: int
    timings: dict[str, float] = field(default_factory=dict)
    reason: str = ""


def shapes_text(base: str) -> str:
    return rebase((SHAPES_DIR / SHAPES_FILE).read_text(encoding="utf-8"), base)


def vocabulary_lines(iris: Iris) -> list[str]:
    """The schemes and form fields as canonical N-Triples lines (they are part of the dataset)."""
    import pyoxigraph as ox

    data = vocabulary_graph(iris).serialize(format="nt", encoding="utf-8")
    return sorted(f"{t} .\n" for t in ox.parse(data, format=ox.RdfFormat.N_TRIPLES))


_worker_engine: shacl.Engine | None = None


def _init_worker(parent: int, engine: str, shapes: str, vocabulary: list[str]) -> None:
    """A validation worker: ends with the build (even ``kill -9``), then compiles the shapes
    once for all its batches."""
    global _worker_engine
    lifetime.die_with_parent(parent)
    _worker_engine = shacl.make_engine(Graph().parse(data=shapes, format="turtle"), vocabulary,
                                       engine)


def _validate_batch(data: bytes, context: bytes) -> list[shacl.Result]:
    """Validate a batch; nodes that are only context (typed, described elsewhere) are skipped."""
    results = list(shacl.validate(context + data, _worker_engine).results)
    if not context:
        return results
    skipped = {line.split(b" ", 1)[0].decode("utf-8") for line in context.splitlines()}
    return [r for r in results if r.focus not in skipped]


class _Locator:
    """Which record (FILE:LINE) an IRI of a batch belongs to: the first record naming it.

    One per batch, kept only until the batch's results are back, so memory stays flat.
    """

    def __init__(self) -> None:
        self.where: dict[str, str] = {}

    def add(self, triples, where: str) -> None:
        for s, _, o in triples:
            self.where.setdefault(s, where)
            if o.startswith("<"):
                self.where.setdefault(o, where)

    def __call__(self, focus: str) -> str | None:
        """``focus`` in N-Triples form; a part (``<{action}#amount-1>``) is located by its action."""
        owner = part_of(focus[1:-1]) if focus.startswith("<") else None
        return self.where.get(focus) or (self.where.get(nt.iri(owner)) if owner else None)


def _progress(config: BuildConfig):
    from tqdm import tqdm

    enabled = sys.stderr.isatty() if config.progress is None else config.progress
    return tqdm(total=None, unit=" records", desc="read, map, validate", disable=not enabled,
                file=sys.stderr, mininterval=0.5)


def _check_inputs(sources: list[Path]) -> None:
    names = Counter(p.name for p in sources)
    twins = [n for n, c in names.items() if c > 1]
    if twins:
        raise ValueError(f"two inputs share the file name {twins[0]!r}: source IRIs are named "
                         "after file names, rename one")


def build(config: BuildConfig) -> BuildOutcome:
    """Build a release into ``config.out``; publish it only if it is complete and valid."""
    _check_inputs(config.sources)
    timings: dict[str, float] = {}
    iris = Iris(config.base)
    reference = Reference.packaged()
    mapper = Mapper(iris, reference=reference,
                    renames=Renames.load(config.renames, reference, config.release_id))
    shapes = shapes_text(iris.base)
    vocabulary = vocabulary_lines(iris)
    staged = release.staging_dir(config.out)
    try:
        return _build(config, iris, mapper, shapes, vocabulary, staged, timings)
    finally:
        if staged.exists():
            shutil.rmtree(staged, ignore_errors=True)


def _build(config, iris, mapper, shapes, vocabulary, staged, timings) -> BuildOutcome:
    """The build's steps in order; every file goes to ``staged`` until the last step."""
    work = staged / ".work"
    work.mkdir()
    sorter = release.SortedLines(work)
    sorter.extend(vocabulary)
    start = time.perf_counter()
    found = _read_map_validate(config, iris, mapper, shapes, vocabulary, sorter)
    timings["read, map, validate"] = time.perf_counter() - start
    validation = shacl.Report.of(found.results, shacl.messages_of(
        Graph().parse(data=shapes, format="turtle")), found.located.get)
    report = _build_report(config, mapper, found, validation.results, iris)
    (staged / SHACL_REPORT).write_text(validation.turtle(), encoding="utf-8")
    (staged / SUMMARY).write_text(_summary_text(report, validation.summary, found.problems),
                                  encoding="utf-8")
    refused = _refusal(config, validation, found)
    if refused:
        target = _refuse(config, staged, work, report)
        return _outcome(False, target, found, validation, timings, refused)
    start = time.perf_counter()
    plain = work / release.DUMP  # the canonical dump, plain, for the steps below only
    counts, dumps = _write_dataset(config, iris, mapper, found, sorter, staged, plain)
    report["counts"] = {"triples": counts["triples"], "classes": counts["classes"]}
    timings["write"] = time.perf_counter() - start
    start = time.perf_counter()
    terms = tables.Terms(config.dataset_info.license, config.dataset_info.rights)
    with tables.in_background(plain, staged, iris.base, work, terms) as job:  # the network too
        report["network"] = write_network(plain, staged, iris.base, work)
        timings["network"] = time.perf_counter() - start
        written = job.result()
    timings["tables"] = time.perf_counter() - start  # since the network began beside it
    report["tables"] = written.rows
    dumps.update(written.files)  # listed by the catalog's distributions and the manifest
    extra = {}
    if config.finish is not None:  # before the catalog, which lists the changeset's files
        start = time.perf_counter()
        extra = config.finish(staged, plain)
        dumps.update(_digests(staged, diff.CHANGES_DIR))
        timings["changes"] = time.perf_counter() - start
    shutil.rmtree(work)
    _describe(config, iris, mapper, found, counts, dumps, staged, extra.get("changes"))
    _publish(config, iris, shapes, found, counts, dumps, report, staged, extra)
    return _outcome(True, config.out, found, validation, timings)


@dataclass
class _Found:
    """What the pass over the inputs found: the rest of the build works from it alone."""

    iris: Iris
    records: int = 0
    files: list[dict] = field(default_factory=list)  # {"name", "records"} per input
    problems: list[str] = field(default_factory=list)  # NAME:LINE: message
    input_errors: int = 0
    predicates: Counter[str] = field(default_factory=Counter)  # for the extraction counts
    places: set[str] = field(default_factory=set)  # departments: the catalog's dct:spatial
    years: set[str] = field(default_factory=set)  # start years: the catalog's dct:temporal
    first_action: str | None = None  # VoID's example resource
    results: list[shacl.Result] = field(default_factory=list)
    located: dict[str, str] = field(default_factory=dict)  # focus node -> FILE:LINE

    def note(self, action: str, triples) -> None:
        """Count what the report and the catalog say about one record's triples."""
        if self.first_action is None:
            self.first_action = action
        department, start_date = f"<{self.iris.DEF}department>", f"<{self.iris.DEF}startDate>"
        for triple in triples:
            self.predicates[triple[1]] += 1
            if triple[1] == department:
                self.places.add(triple[2][1:-1])
            elif triple[1] == start_date:
                self.years.add(triple[2][1:5])


class _Batches:
    """Mapped lines on their way to the validation workers and to the sort, a batch at a time.

    At most two batches per worker wait for their results, so that memory stays flat while
    both cores work; each result's record is found through the batch's own locator.
    """

    def __init__(self, config: BuildConfig, pool: ProcessPoolExecutor,
                 sorter: release.SortedLines, bar, found: _Found) -> None:
        self.size, self.workers = config.batch_size, config.workers
        self.pool, self.sorter, self.bar, self.found = pool, sorter, bar, found
        self.pending: deque[tuple[Future, _Locator]] = deque()
        self.lines: list[str] = []
        self.records = 0
        self.locator = _Locator()

    def add_record(self, triples, where: str, context: str) -> None:
        """A record's triples; a full batch goes, with the context its nodes point at."""
        self.locator.add(triples, where)
        self.lines.extend(map(nt.line, triples))
        self.records += 1
        if self.records >= self.size:
            self.flush(context)

    def add_triples(self, triples) -> None:
        """Triples of no record (a file's description): they go with the next batch."""
        self.lines.extend(map(nt.line, triples))

    def flush(self, context: str = "") -> None:
        """Send the batch (if any), then collect the results already back or overdue."""
        if self.lines:
            self.pending.append((self.pool.submit(_validate_batch,
                                                  "".join(self.lines).encode("utf-8"),
                                                  context.encode("utf-8")), self.locator))
            self.locator = _Locator()
            self.sorter.extend(self.lines)
            self.bar.update(self.records)
            self.lines, self.records = [], 0
        while len(self.pending) > 2 * self.workers or (self.pending and self.pending[0][0].done()):
            self._collect()

    def drain(self) -> None:
        """Wait for every batch's results."""
        while self.pending:
            self._collect()

    def _collect(self) -> None:
        future, where = self.pending.popleft()
        for result in future.result():
            self.found.results.append(result)
            spot = where(result.focus)
            if spot:
                self.found.located.setdefault(result.focus, spot)


def _read_map_validate(config: BuildConfig, iris: Iris, mapper: Mapper, shapes: str,
                       vocabulary: list[str], sorter: release.SortedLines) -> _Found:
    """One streaming pass over the inputs: each record read, mapped here and validated in a
    worker process while the next ones are read (the two cores at once), its lines sorted
    on disk; nothing of a record stays in memory once its batch's results are back."""
    found = _Found(iris)
    pool = ProcessPoolExecutor(max_workers=config.workers, mp_context=release.WORKER_START,
                               initializer=_init_worker,
                               initargs=(os.getpid(), config.engine, shapes, vocabulary))
    bar = _progress(config)
    batches = _Batches(config, pool, sorter, bar, found)
    try:
        plan_names(mapper, [(path, config.encoding) for path in config.sources])
        for path in config.sources:
            _read_file(path, config, mapper, batches, found)
        batches.add_triples(mapper.closing_triples())  # once per build: EPCI member lists
        batches.flush()
        batches.drain()
    finally:
        bar.close()
        pool.shutdown(cancel_futures=True)
    return found


def _read_file(path: Path, config: BuildConfig, mapper: Mapper, batches: _Batches,
               found: _Found) -> None:
    """One input's records, then the file's own description (known once its end is read)."""
    export = ExportFile(path, config.encoding)
    # until the file is described, batches that point at it only know its type
    context = nt.line((mapper.source_iri(export.name), nt.RDF_TYPE, mapper.t.SourceFile))
    count = 0
    for record in export.records():
        count += 1
        found.input_errors += _note_problems(record.problems, path, found.problems)
        action, triples = mapper.map_record(record)
        found.note(action, triples)
        batches.add_record(triples, f"{path.name}:{record.line}", context)
    found.input_errors += _note_problems(export.problems, path, found.problems)
    batches.add_triples(mapper.file_triples(export, count))
    found.records += count
    found.files.append({"name": path.name, "records": count})
    batches.flush()


def _refusal(config: BuildConfig, validation: shacl.Report, found: _Found) -> str:
    """Why the release must not be published ("" when it may): a SHACL violation always,
    input errors unless the user accepts their records kept verbatim."""
    if validation.violations:
        return f"{validation.violations} SHACL violation(s)"
    if found.input_errors and not config.allow_input_errors:
        return (f"{found.input_errors} input error(s) (pass --allow-input-errors to publish the "
                "affected records kept verbatim)")
    return ""


def _refuse(config: BuildConfig, staged: Path, work: Path, report: dict) -> Path:
    """Keep the reports (not the data) in ``OUT.refused/``, where the user is told to look;
    the previous release stays untouched."""
    shutil.rmtree(work)
    target = config.out.parent / f"{config.out.name}.refused"
    shutil.rmtree(target, ignore_errors=True)
    _write_json(staged / REPORT, report)
    staged.rename(target)
    return target


def _write_dataset(config: BuildConfig, iris: Iris, mapper: Mapper, found: _Found,
                   sorter: release.SortedLines, staged: Path,
                   plain: Path) -> tuple[dict, dict]:
    """The dumps: returns their counts and each dump's sha256 and size (taken while they were
    written, with those of their content)."""
    counts, derived = release.write_dumps(sorter.merged(), staged, iris.base, plain)
    dumps = {name: derived.get(name) or dict(zip(("sha256", "bytes"),
                                                 release.file_digest(staged / name)))
             for name, *_ in metadata.DUMPS}
    return counts, dumps


def _describe(config: BuildConfig, iris: Iris, mapper: Mapper, found: _Found, counts: dict,
              files: dict, staged: Path, changes: dict | None = None) -> None:
    """The catalog and VoID that describe the written files (sizes, checksums, counts); in a
    series, of this release (its place in the series, what changed since the previous one)."""
    keywords = sorted(c.label for c in mapper.schemes.known("keyword"))
    period = (min(found.years), max(found.years)) if found.years else None
    spatial = sorted(p for p in found.places if "/place/departement/" in p)
    in_series = replace(config.in_series, changes=changes) if config.in_series else None
    release.write_turtle(metadata.catalog(iris.base, files, config.dataset_info, keywords, spatial,
                                          period, mapper.reference.source, in_series),
                         staged / release.CATALOG, iris.base)
    release.write_turtle(metadata.void(iris.base, counts, found.first_action,
                                       in_series.id if in_series else None),
                         staged / release.VOID, iris.base)


def _digests(staged: Path, folder: str) -> dict[str, dict]:
    """Each file under ``staged/folder`` (its release-relative name) with its sha256 and size."""
    return {path.relative_to(staged).as_posix(): dict(zip(("sha256", "bytes"),
                                                          release.file_digest(path)))
            for path in sorted((staged / folder).rglob("*")) if path.is_file()}


def _publish(config: BuildConfig, iris: Iris, shapes: str, found: _Found, counts: dict,
             dumps: dict, report: dict, staged: Path, extra: dict) -> None:
    """The last files (build report, vocabularies, then the manifest over them all), and the
    atomic switch to the new release."""
    _write_json(staged / REPORT, report)
    _copy_vocabularies(staged, iris.base, shapes)
    release.write_manifest(staged, {**_manifest_content(config, iris, found.files, counts,
                                                        report), **extra}, dumps)
    release.publish(staged, config.out)


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")


def _outcome(published: bool, folder: Path, found: _Found, validation: shacl.Report,
             timings: dict[str, float], reason: str = "") -> BuildOutcome:
    return BuildOutcome(published, folder, found.records, validation.violations,
                        validation.warnings, found.input_errors, timings, reason)


def _note_problems(found, path: Path, problems: list[str]) -> int:
    """Add input problems as ``NAME:LINE: message`` (file names, so the report does not
    depend on where the inputs were); return the number of errors."""
    for problem in found:
        warning = "warning: " if problem.severity == "warning" else ""
        problems.append(f"{path.name}:{problem.line}: {warning}{problem.message}")
    return sum(problem.severity == "error" for problem in found)


def write_network(dump: Path, staged: Path, base: str, work: Path) -> dict:
    """The release's network files, computed from its written canonical dump (plain, at
    ``dump``) through SPARQL,
    like `senacs-kg network` on a published release: the analysis reads the release, it is
    no part of writing it.

    The bipartite graph and the partners' projection always; a projection only up to
    MAX_EDGES links: when one body (the Caf) partners nearly every structure, the structures'
    projection is nearly complete and grows with the square of the structures (448,000 links
    for 963 structures at 10,000 records), too big to be useful as a file.
    """
    from analysis import network, sources

    # on disk, in the build's work folder: in memory, at a million records, the lines, their
    # text and the store held 5.4 GB at once
    (work / "network").mkdir()
    networks = network.fetch(sources.dump_select(dump, base, work / "network"),
                             base)
    folder = staged / "network"
    folder.mkdir()
    stats = {}
    graphs = {}
    for name in ("bipartite", "partners", "structures"):
        bound = 0 if name == "bipartite" else networks.projection_edges_at_least(name)
        graph = getattr(networks, name) if bound <= MAX_EDGES else None
        if graph is not None and graph.number_of_edges() <= MAX_EDGES:
            graphs[name] = graph
        else:
            links = graph.number_of_edges() if graph is not None else f"at least {bound}"
            stats[name] = (f"not written: {links} links (more than {MAX_EDGES}); "
                           f"`senacs-kg network --graph {name}` computes it")
    for name, graph in graphs.items():
        stats[name] = network.annotate(graph)
        for fmt, suffix in (("graphml", ".graphml"), ("gexf", ".gexf"), ("csv", ".csv")):
            network.write(graph, fmt, folder / f"{name}{suffix}")
    (folder / "network.json").write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n",
                                         encoding="utf-8")
    return stats


MAX_EDGES = 50_000


def _copy_vocabularies(staged: Path, base: str, shapes: str) -> None:
    (staged / "ontology").mkdir()
    for name in ONTOLOGY_FILES:
        (staged / "ontology" / name).write_text(load_ontology_text(name, base), encoding="utf-8")
    for lang in release.ONTOLOGY_DOC_LANGUAGES:
        (staged / release.ontology_doc_page(lang)).write_text(
            ontology_doc.document(load_ontology_text("senacs.ttl", base), base, lang),
            encoding="utf-8")
    (staged / "shapes").mkdir()
    (staged / "shapes" / SHAPES_FILE).write_text(shapes, encoding="utf-8")
    (staged / release.EXAMPLES).write_text(
        rebase(EXAMPLES_FILE.read_text(encoding="utf-8"), base), encoding="utf-8")


def _build_report(config, mapper, found: _Found, results, iris) -> dict:
    """build-report.json: what was read, extracted and found, for the publisher to check."""
    d = str(iris.DEF)
    predicates = found.predicates
    by_shape: dict[str, dict[str, int]] = {}
    for r in results:
        entry = by_shape.setdefault(hash_name(r.shape), {"violations": 0, "warnings": 0})
        entry["violations" if r.is_violation else "warnings"] += 1
    return {
        "records": found.records,
        "files": found.files,
        "input_problems": found.problems,
        "new_vocabulary": [{"scheme": scheme, "value": value, "records": n}
                           for (scheme, value), n in sorted(mapper.schemes.new_values.items())],
        "extraction": {
            "amounts": predicates[f"<{d}budgetLine>"],
            "budget_totals": predicates[f"<{d}budgetTotal>"],
            "headcounts": predicates[f"<{d}headcount>"],
            "start_dates": predicates[f"<{d}startDate>"],
            "resolved_partner_links": predicates[f"<{d}resolvedPartner>"],
            "records_kept_verbatim": predicates[f"<{d}sourceText>"],
        },
        "validation": {"engine": config.engine,
                       "violations": sum(r.is_violation for r in results),
                       "warnings": sum(not r.is_violation for r in results),
                       "by_shape": by_shape},
    }


def _summary_text(report: dict, shacl_summary: str, problems: list[str]) -> str:
    lines = [f"senacs-kg release: {report['records']} record(s) from "
             f"{len(report['files'])} file(s)", ""]
    lines.append(f"Input problems: {len(problems)}")
    lines += [f"  {p}" for p in problems[:50]]
    if len(problems) > 50:
        lines.append(f"  … and {len(problems) - 50} more (see {REPORT})")
    new = report["new_vocabulary"]
    lines += ["", f"New vocabulary values: {len(new)}"]
    lines += [f"  {v['scheme']}: {v['value']!r} ({v['records']} record(s))" for v in new]
    lines += ["", "Extracted values:"]
    lines += [f"  {k.replace('_', ' ')}: {v}" for k, v in report["extraction"].items()]
    lines += ["", "SHACL validation: " + shacl_summary]
    return "\n".join(lines)


def _manifest_content(config, iris, files, counts, report) -> dict:
    inputs = []
    for path, meta in zip(config.sources, files):
        digest, size = release.file_digest(path)
        inputs.append({"name": path.name, "sha256": digest, "bytes": size,
                       "records": meta["records"]})
    tools = {"senacs-kg": _version("senacs-kg"), "python": platform.python_version()}
    for package in ("rdflib", "pyoxigraph", "pyshacl"):
        tools[package] = _version(package)
    reference = source_info()  # the official places and bodies the build resolved with
    return {"base": iris.base, "inputs": inputs, "tools": tools, "triples": counts["triples"],
            "release_date": config.release_date,
            "reference": {k: reference[k] for k in ("package", "version", "vintage",
                                                     "tarball_sha256")},
            "validation": {k: report["validation"][k] for k in ("engine", "violations", "warnings")}}


def _version(package: str) -> str:
    try:
        return importlib_metadata.version(package)
    except importlib_metadata.PackageNotFoundError:
        return "unknown"
