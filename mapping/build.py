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
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path

from rdflib import Graph

from mapping import lifetime, metadata, ontology_doc, release, shacl
from mapping import ntriples as nt
from mapping.concepts import load_ontology_text
from mapping.mapper import Mapper, vocabulary_graph
from mapping.paths import EXAMPLES_FILE, SHAPES_DIR
from mapping.reader import ExportFile
from mapping.vocab import DEFAULT_BASE, Iris, rebase

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
        return self.where.get(focus) or self.where.get(focus.split("#", 1)[0] + ">")


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
    mapper = Mapper(iris)
    shapes = shapes_text(iris.base)
    vocabulary = vocabulary_lines(iris)
    staged = release.staging_dir(config.out)
    try:
        return _build(config, iris, mapper, shapes, vocabulary, staged, timings)
    finally:
        if staged.exists():
            shutil.rmtree(staged, ignore_errors=True)


def _build(config, iris, mapper, shapes, vocabulary, staged, timings) -> BuildOutcome:
    work = staged / ".work"
    work.mkdir()
    sorter = release.SortedLines(work)
    sorter.extend(vocabulary)
    results: list[shacl.Result] = []
    located: dict[str, str] = {}
    locator = _Locator()
    problems: list[str] = []
    input_errors = 0
    records = 0
    predicates: Counter[str] = Counter()
    places: set[str] = set()
    years: set[str] = set()
    first_action: list[str] = []
    department = f"<{iris.DEF}department>"
    start_date = f"<{iris.DEF}startDate>"
    files = []
    start = time.perf_counter()
    pool = ProcessPoolExecutor(max_workers=config.workers, mp_context=release.WORKER_START,
                               initializer=_init_worker,
                               initargs=(os.getpid(), config.engine, shapes, vocabulary))
    pending: deque[tuple[Future, _Locator]] = deque()
    bar = _progress(config)
    batch: list[str] = []
    batch_records = 0

    def collect() -> None:
        future, where = pending.popleft()
        for result in future.result():
            results.append(result)
            spot = where(result.focus)
            if spot:
                located.setdefault(result.focus, spot)

    def flush(context: str = "") -> None:
        nonlocal batch, batch_records, locator
        if batch:
            pending.append((pool.submit(_validate_batch, "".join(batch).encode("utf-8"),
                                        context.encode("utf-8")), locator))
            locator = _Locator()
            sorter.extend(batch)
            bar.update(batch_records)
            batch, batch_records = [], 0
        while len(pending) > 2 * config.workers or (pending and pending[0][0].done()):
            collect()

    try:
        for path in config.sources:
            export = ExportFile(path, config.encoding)
            # The file is described once its end is read; until then batches that point at
            # it only know its type.
            context = nt.line((mapper.source_iri(export.name), nt.RDF_TYPE, mapper.t.SourceFile))
            count = 0
            for record in export.records():
                count += 1
                where = f"{path.name}:{record.line}"
                input_errors += _note_problems(record.problems, path, problems)
                action, triples = mapper.map_record(record)
                if not first_action:
                    first_action.append(action)
                locator.add(triples, where)
                for triple in triples:
                    predicates[triple[1]] += 1
                    if triple[1] == department:
                        places.add(triple[2][1:-1])
                    elif triple[1] == start_date:
                        years.add(triple[2][1:5])
                batch.extend(map(nt.line, triples))
                batch_records += 1
                if batch_records >= config.batch_size:
                    flush(context)
            input_errors += _note_problems(export.problems, path, problems)
            file_triples = mapper.file_triples(export, count)
            batch.extend(map(nt.line, file_triples))
            records += count
            files.append({"name": path.name, "records": count})
            flush()
        while pending:
            collect()
    finally:
        bar.close()
        pool.shutdown(cancel_futures=True)
    timings["read, map, validate"] = time.perf_counter() - start
    validation = shacl.Report.of(results, shacl.messages_of(Graph().parse(data=shapes,
                                                                        format="turtle")),
                                 located.get)
    violations = validation.violations
    report = _build_report(config, mapper, records, files, problems, predicates,
                           validation.results, iris)

    refused = ""
    if violations:
        refused = f"{violations} SHACL violation(s)"
    elif input_errors and not config.allow_input_errors:
        refused = (f"{input_errors} input error(s) (pass --allow-input-errors to publish the "
                   "affected records kept verbatim)")
    (staged / SHACL_REPORT).write_text(validation.turtle(), encoding="utf-8")
    (staged / SUMMARY).write_text(_summary_text(report, validation.summary, problems),
                                  encoding="utf-8")
    if refused:
        shutil.rmtree(work)
        target = config.out.parent / f"{config.out.name}.refused"
        shutil.rmtree(target, ignore_errors=True)
        (staged / REPORT).write_text(json.dumps(report, indent=2, sort_keys=True,
                                                ensure_ascii=False) + "\n", encoding="utf-8")
        staged.rename(target)
        return BuildOutcome(False, target, records, violations, validation.warnings,
                            input_errors, timings, refused)

    start = time.perf_counter()
    counts = release.write_dumps(sorter.merged(), staged, iris.base)
    report["counts"] = {"triples": counts["triples"], "classes": counts["classes"]}
    dumps = {name: dict(zip(("sha256", "bytes"), release.file_digest(staged / name)))
             for name, *_ in metadata.DUMPS}
    keywords = sorted(c.label for c in mapper.schemes.known("keyword"))
    period = (min(years), max(years)) if years else None
    spatial = sorted(p for p in places if "/place/departement/" in p)
    release.write_turtle(metadata.catalog(iris.base, dumps, config.dataset_info, keywords, spatial,
                                          period), staged / release.CATALOG, iris.base)
    release.write_turtle(metadata.void(iris.base, counts, first_action[0] if first_action
                                       else None), staged / release.VOID, iris.base)
    timings["write"] = time.perf_counter() - start
    start = time.perf_counter()
    report["network"] = write_network(staged, iris.base, work)
    timings["network"] = time.perf_counter() - start
    shutil.rmtree(work)
    (staged / REPORT).write_text(json.dumps(report, indent=2, sort_keys=True,
                                            ensure_ascii=False) + "\n", encoding="utf-8")
    _copy_vocabularies(staged, iris.base, shapes)
    release.write_manifest(staged, _manifest_content(config, iris, files, counts, report), dumps)
    release.publish(staged, config.out)
    return BuildOutcome(True, config.out, records, violations, validation.warnings,
                        input_errors, timings)


def _note_problems(found, path: Path, problems: list[str]) -> int:
    """Add input problems as ``NAME:LINE: message`` (file names, so the report does not
    depend on where the inputs were); return the number of errors."""
    for problem in found:
        warning = "warning: " if problem.severity == "warning" else ""
        problems.append(f"{path.name}:{problem.line}: {warning}{problem.message}")
    return sum(problem.severity == "error" for problem in found)


def write_network(staged: Path, base: str, work: Path) -> dict:
    """The release's network files, computed from its written canonical dump through SPARQL,
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
    networks = network.fetch(sources.dump_select(staged / release.DUMP, base, work / "network"),
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


def _build_report(config, mapper, records, files, problems, predicates, results, iris) -> dict:
    d = str(iris.DEF)
    by_shape: dict[str, dict[str, int]] = {}
    for r in results:
        entry = by_shape.setdefault(r.shape.rsplit("#", 1)[-1], {"violations": 0, "warnings": 0})
        entry["violations" if r.is_violation else "warnings"] += 1
    return {
        "records": records,
        "files": files,
        "input_problems": problems,
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
    return {"base": iris.base, "inputs": inputs, "tools": tools, "triples": counts["triples"],
            "release_date": config.release_date,
            "validation": {k: report["validation"][k] for k in ("engine", "violations", "warnings")}}


def _version(package: str) -> str:
    try:
        return importlib_metadata.version(package)
    except importlib_metadata.PackageNotFoundError:
        return "unknown"
