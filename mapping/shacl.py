"""SHACL validation: the shapes compiled to SPARQL and run on Oxigraph, in batches.

pySHACL is the reference validator, but at about 5 ms per record it cannot
check a million records in a build. The shapes of ``shapes/`` use a small
part of SHACL Core (listed in :data:`SUPPORTED`); each of their constraints
compiles to one SPARQL query that returns exactly the focus nodes and values
pySHACL reports, which Oxigraph answers fast. A shape using anything else is
refused when compiled, never silently skipped. tests/test_shacl.py checks the
two engines report the same results.

Records are validated in batches (their own triples plus the vocabulary they
link to), so the cost grows linearly with the number of records.

:func:`validate` is the one door: the build (per batch, in its workers), ``senacs-kg
validate`` and the tests call it, and read its :class:`Report` (results, counts, the
summary and the Turtle report).
"""

from __future__ import annotations

import re
import tempfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH, XSD

from mapping import release
from mapping.vocab import hash_name, part_of

SUPPORTED = {SH["class"], SH.datatype, SH.nodeKind, SH.minCount, SH.maxCount, SH["in"],
             SH.languageIn, SH.pattern, SH.flags, SH.minLength, SH.minInclusive,
             SH.lessThanOrEquals, SH.equals}
# Shape-level terms that are not constraints.
NON_CONSTRAINTS = {RDF.type, SH.path, SH.severity, SH.message, SH.targetClass,
                   SH.targetSubjectsOf, SH.property, SH.name, SH.description, SH.order,
                   SH.group}
COMPONENT = {
    SH["class"]: SH.ClassConstraintComponent, SH.datatype: SH.DatatypeConstraintComponent,
    SH.nodeKind: SH.NodeKindConstraintComponent, SH.minCount: SH.MinCountConstraintComponent,
    SH.maxCount: SH.MaxCountConstraintComponent, SH["in"]: SH.InConstraintComponent,
    SH.languageIn: SH.LanguageInConstraintComponent, SH.pattern: SH.PatternConstraintComponent,
    SH.minLength: SH.MinLengthConstraintComponent,
    SH.minInclusive: SH.MinInclusiveConstraintComponent,
    SH.lessThanOrEquals: SH.LessThanOrEqualsConstraintComponent,
    SH.equals: SH.EqualsConstraintComponent,
}
# Lexical forms pySHACL (rdflib) accepts for the datatypes our shapes use.
WELL_FORMED = {
    XSD.integer: r"^[+-]?[0-9]+$",
    XSD.positiveInteger: r"^[+]?0*[1-9][0-9]*$",
    XSD.nonNegativeInteger: r"^([+]?[0-9]+|-0+)$",
    XSD.decimal: r"^[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)$",
    XSD.boolean: r"^(true|false|1|0)$",
}
TARGET = "?this <http://www.w3.org/1999/02/22-rdf-syntax-ns#type>/" \
         "<http://www.w3.org/2000/01/rdf-schema#subClassOf>* {cls} ."
# sh:targetSubjectsOf: for statements written without their subject's type (the ranks a build
# writes once, after the last record, in a batch of their own)
SUBJECTS_TARGET = "{{ SELECT DISTINCT ?this WHERE {{ ?this {prop} ?target_value_ }} }}"


class UnsupportedShape(ValueError):
    """A shape uses SHACL the compiler does not translate (refused, never skipped)."""


@dataclass(frozen=True, order=True)
class Result:
    """One validation result, as pySHACL would report it."""

    shape: str  # the property shape (or node shape) IRI
    focus: str  # N-Triples form of the focus node
    component: str  # the constraint component IRI
    value: str | None  # N-Triples form of the value node, None for counts
    severity: str = field(compare=False)
    path: str | None = field(compare=False, default=None)  # SPARQL form of the path

    @property
    def is_violation(self) -> bool:
        return self.severity == str(SH.Violation)


@dataclass
class Check:
    """One compiled constraint: a SPARQL query returning ?this (and ?v) per result."""

    shape: str
    component: str
    severity: str
    path: str | None
    query: str
    has_value: bool


def _term(node) -> str:
    """A SPARQL/N-Triples term for an rdflib node."""
    if isinstance(node, URIRef):
        return f"<{node}>"
    if isinstance(node, Literal):
        return node.n3()
    raise UnsupportedShape(f"unsupported term in a shape: {node!r}")


def _path(shapes: Graph, path) -> str:
    if isinstance(path, URIRef):
        return f"<{path}>"
    if isinstance(path, BNode) and shapes.value(path, RDF.first) is not None:
        return "/".join(_path(shapes, step) for step in Collection(shapes, path))
    inverse = shapes.value(path, SH.inversePath) if isinstance(path, BNode) else None
    if isinstance(inverse, URIRef):
        return f"^<{inverse}>"
    raise UnsupportedShape(f"unsupported sh:path {path!r}: only predicates, inverses of a "
                           "predicate and sequences")


def _str(literal) -> str:
    return '"' + str(literal).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _filter(shapes: Graph, constraint, value, flags) -> str:
    """The FILTER that keeps the values violating one value constraint."""
    if constraint == SH.datatype:
        if value == RDF.langString:
            return '!isLiteral(?v) || lang(?v) = ""'
        test = f"!isLiteral(?v) || datatype(?v) != {_term(value)}"
        if value in WELL_FORMED:
            test += f' || !regex(str(?v), "{WELL_FORMED[value]}")'
        return test
    if constraint == SH["class"]:
        return ("NOT EXISTS { ?v <http://www.w3.org/1999/02/22-rdf-syntax-ns#type>/"
                f"<http://www.w3.org/2000/01/rdf-schema#subClassOf>* {_term(value)} }}")
    if constraint == SH.nodeKind:
        tests = {SH.IRI: "!isIRI(?v)", SH.Literal: "!isLiteral(?v)", SH.BlankNode: "!isBlank(?v)"}
        if value not in tests:
            raise UnsupportedShape(f"unsupported sh:nodeKind {value}")
        return tests[value]
    if constraint == SH["in"]:
        members = list(Collection(shapes, value))
        return "!(" + " || ".join(f"sameTerm(?v, {_term(m)})" for m in members) + ")"
    if constraint == SH.languageIn:
        tags = list(Collection(shapes, value))
        return "!isLiteral(?v) || !(" + " || ".join(
            f"langMatches(lang(?v), {_str(t)})" for t in tags) + ")"
    if constraint == SH.pattern:
        extra = f", {_str(flags)}" if flags is not None else ""
        return f"isBlank(?v) || !regex(str(?v), {_str(value)}{extra})"
    if constraint == SH.minLength:
        return f"isBlank(?v) || strlen(str(?v)) < {int(value)}"
    if constraint == SH.minInclusive:
        return f"COALESCE(!(?v >= {_term(value)}), true)"
    raise UnsupportedShape(f"unsupported constraint {constraint}")


def compile_shapes(shapes: Graph) -> list[Check]:
    """Every constraint of every shape with a sh:targetClass or sh:targetSubjectsOf, as one
    SPARQL query each."""
    checks: list[Check] = []
    for kind, pattern, name in ((SH.targetClass, TARGET, "cls"),
                                (SH.targetSubjectsOf, SUBJECTS_TARGET, "prop")):
        for node_shape in sorted(set(shapes.subjects(kind, None)), key=str):
            for value in sorted(shapes.objects(node_shape, kind), key=str):
                target = pattern.format(**{name: _term(value)})
                checks += _compile(shapes, node_shape, target, None)
                for prop in sorted(shapes.objects(node_shape, SH.property), key=str):
                    path = _path(shapes, shapes.value(prop, SH.path))
                    checks += _compile(shapes, prop, target, path)
    return checks


def _compile(shapes: Graph, shape, target: str, path: str | None) -> list[Check]:
    severity = str(shapes.value(shape, SH.severity) or SH.Violation)
    flags = shapes.value(shape, SH.flags)
    out = []
    for constraint, value in sorted(shapes.predicate_objects(shape), key=lambda po: str(po[0])):
        if constraint in NON_CONSTRAINTS or constraint == SH.flags:
            continue
        if constraint not in SUPPORTED:
            raise UnsupportedShape(f"{shape}: {constraint} is not supported by mapping/shacl.py")
        component = str(COMPONENT[constraint])
        if path is None:  # a constraint on the focus node itself
            query = (f"SELECT DISTINCT ?this ?v WHERE {{ {target} BIND(?this AS ?v) "
                     f"FILTER({_filter(shapes, constraint, value, flags)}) }}")
            out.append(Check(str(shape), component, severity, None, query, True))
        elif constraint == SH.minCount:
            query = (f"SELECT ?this WHERE {{ {target} OPTIONAL {{ ?this {path} ?v }} }} "
                     f"GROUP BY ?this HAVING (COUNT(DISTINCT ?v) < {int(value)})")
            out.append(Check(str(shape), component, severity, path, query, False))
        elif constraint == SH.maxCount:
            query = (f"SELECT ?this WHERE {{ {target} ?this {path} ?v }} "
                     f"GROUP BY ?this HAVING (COUNT(DISTINCT ?v) > {int(value)})")
            out.append(Check(str(shape), component, severity, path, query, False))
        elif constraint == SH.equals:
            # a value of the path the property lacks, or a value of the property the path
            # lacks: each is a result with that value (SHACL 4.5.1)
            other = _term(value)
            query = (f"SELECT DISTINCT ?this ?v WHERE {{ {target} "
                     f"{{ ?this {path} ?v FILTER NOT EXISTS {{ ?this {other} ?v }} }} UNION "
                     f"{{ ?this {other} ?v FILTER NOT EXISTS {{ ?this {path} ?v }} }} }}")
            out.append(Check(str(shape), component, severity, path, query, True))
        elif constraint == SH.lessThanOrEquals:
            query = (f"SELECT DISTINCT ?this ?v WHERE {{ {target} ?this {path} ?v . "
                     f"?this {_term(value)} ?o . FILTER(COALESCE(!(?v <= ?o), true)) }}")
            out.append(Check(str(shape), component, severity, path, query, True))
        else:
            query = (f"SELECT DISTINCT ?this ?v WHERE {{ {target} ?this {path} ?v . "
                     f"FILTER({_filter(shapes, constraint, value, flags)}) }}")
            out.append(Check(str(shape), component, severity, path, query, True))
    return out


def messages_of(shapes: Graph) -> dict[str, list[tuple[str, str]]]:
    """Each shape's sh:message, as (text, language) pairs."""
    return {str(s): [(str(m), m.language) for m in shapes.objects(s, SH.message)]
            for s in set(shapes.subjects(SH.message, None))}


class Validator:
    """Runs the compiled shapes over batches of N-Triples."""

    def __init__(self, shapes: Graph, vocabulary: Iterable[str] = ()) -> None:
        self.shapes = shapes
        self.checks = compile_shapes(shapes)
        self.vocabulary = "".join(vocabulary).encode("utf-8")
        self.messages = messages_of(shapes)

    def run(self, store: ox.Store) -> list[Result]:
        found: set[Result] = set()
        for check in self.checks:
            for row in store.query(check.query):
                value = str(row["v"]) if check.has_value else None
                found.add(Result(check.shape, str(row["this"]), check.component, value,
                                 check.severity, check.path))
        return sorted(found)



class PyshaclValidator:
    """The reference engine: pySHACL over the same data (slow; for checking and comparing)."""

    def __init__(self, shapes: Graph, vocabulary: Iterable[str] = ()) -> None:
        self.shapes = shapes
        self.vocabulary = "".join(vocabulary).encode("utf-8")
        self.messages = messages_of(shapes)

    def run(self, graph: Graph) -> list[Result]:
        import pyshacl

        _, report, _ = pyshacl.validate(graph, shacl_graph=self.shapes, inference="none")
        return sorted(results_of_report(report, self.shapes))


Engine = Validator | PyshaclValidator
ENGINES = {"sparql": Validator, "pyshacl": PyshaclValidator}


def make_engine(shapes: Graph, vocabulary: Iterable[str] = (), name: str = "sparql") -> Engine:
    """An engine with its shapes compiled once, to validate many batches (the build's workers)."""
    if name not in ENGINES:
        raise ValueError(f"unknown SHACL engine {name!r}: {' or '.join(ENGINES)}")
    return ENGINES[name](shapes, vocabulary)


def results_of_report(report: Graph, shapes: Graph) -> set[Result]:
    """pySHACL's report as Results (focus and values in N-Triples form, as Oxigraph gives them)."""
    found = set()
    for node in report.subjects(RDF.type, SH.ValidationResult):
        value = report.value(node, SH.value)
        path = report.value(node, SH.resultPath)
        shape = report.value(node, SH.sourceShape)
        found.add(Result(
            str(shape), _nt(report.value(node, SH.focusNode)),
            str(report.value(node, SH.sourceConstraintComponent)),
            _nt(value) if value is not None else None,
            str(report.value(node, SH.resultSeverity)),
            _path(shapes, shapes.value(shape, SH.path)) if path is not None else None))
    return found


def _nt(node) -> str:
    """An rdflib term in the N-Triples form Oxigraph prints."""
    return str(ox.Literal(str(node), language=node.language,
                          datatype=ox.NamedNode(node.datatype) if node.datatype else None)) \
        if isinstance(node, Literal) else f"<{node}>" if isinstance(node, URIRef) else f"_:{node}"


# -- reports ------------------------------------------------------------------------------------

SH_PREFIX = "http://www.w3.org/ns/shacl#"


def _turtle_path(path: str) -> str:
    """``<a>`` stays; ``^<a>`` becomes ``[ sh:inversePath <a> ]``; a sequence ``<a>/<b>``
    becomes the list ``( <a> <b> )``."""
    steps = [f"[ sh:inversePath {s[1:]} ]" if s.startswith("^") else s
             for s in re.findall(r"\^?<[^>]*>", path)]
    return steps[0] if len(steps) == 1 else "( " + " ".join(steps) + " )"


def _short(iri: str) -> str:
    return "sh:" + iri[len(SH_PREFIX):] if iri.startswith(SH_PREFIX) else f"<{iri}>"


def report_turtle(results: list[Result], messages: dict[str, list[tuple[str, str]]]) -> str:
    """A SHACL validation report in Turtle, results in a stable order (same data, same bytes)."""
    lines = [f"@prefix sh: <{SH_PREFIX}> .", "",
             "[] a sh:ValidationReport ;",
             f"    sh:conforms {'false' if results else 'true'}" + (" ;" if results else " .")]
    for n, r in enumerate(sorted(results)):
        parts = ["a sh:ValidationResult", f"sh:focusNode {r.focus}"]
        if r.path:
            parts.append(f"sh:resultPath {_turtle_path(r.path)}")
        if r.value is not None:
            parts.append(f"sh:value {r.value}")
        parts += [f"sh:resultSeverity {_short(r.severity)}", f"sh:sourceShape <{r.shape}>",
                  f"sh:sourceConstraintComponent {_short(r.component)}"]
        for text, lang in messages.get(r.shape, []):
            parts.append(f"sh:resultMessage {ox.Literal(text, language=lang)}")
        end = " ." if n == len(results) - 1 else " ,"
        lines.append("    " + ("sh:result " if n == 0 else "    ") + "[ " +
                     " ;\n          ".join(parts) + " ]" + end)
    return "\n".join(lines) + "\n"


def summarize(results: list[Result], messages: dict[str, list[tuple[str, str]]],
              locate=lambda focus: None, per_shape: int = 10) -> str:
    """Results grouped by shape, worst first, each offending record named by FILE:LINE."""
    by_shape: dict[str, list[Result]] = {}
    for r in results:
        by_shape.setdefault(r.shape, []).append(r)
    violations = sum(r.is_violation for r in results)
    lines = [f"{violations} violation(s), {len(results) - violations} warning(s) "
             f"in {len(by_shape)} shape(s)"]
    order = sorted(by_shape, key=lambda s: (not by_shape[s][0].is_violation, s))
    for shape in order:
        group = by_shape[shape]
        severity = "Violation" if group[0].is_violation else "Warning"
        message = next((t for t, lang in messages.get(shape, []) if lang == "en"), "")
        lines.append("")
        lines.append(f"{hash_name(shape)} ({severity}, {len(group)}): {message}")
        for r in group[:per_shape]:
            where = locate(r.focus)
            value = f" value {r.value}" if r.value is not None else ""
            lines.append(f"  {where + ': ' if where else ''}{r.focus}{value}")
        if len(group) > per_shape:
            lines.append(f"  … and {len(group) - per_shape} more (see the Turtle report)")
    return "\n".join(lines) + "\n"


def store_locator(store: ox.Store, base: str):
    """FILE:LINE of the record an IRI of a store belongs to (for reports on a whole graph)."""
    d = f"{base}def#"

    def locate(focus: str) -> str | None:
        if not focus.startswith("<"):
            return None
        owner = part_of(focus[1:-1])  # a part of an action (…#amount-1) is found by its action
        action = f"<{owner}>" if owner else focus
        query = f"""
            SELECT ?file ?line WHERE {{
              {{ BIND({action} AS ?a) }} UNION {{ ?a ?p {focus} }}
              ?a <http://www.w3.org/ns/prov#qualifiedDerivation> ?d .
              ?d <{d}firstLine> ?line ; <http://www.w3.org/ns/prov#entity> ?f .
              ?f <http://purl.org/dc/terms/title> ?file .
            }} ORDER BY ?file ?line LIMIT 1"""
        for row in store.query(query):
            return f"{row['file'].value}:{row['line'].value}"
        return None

    return locate


# -- the one door: validate() -------------------------------------------------------------------


def _nowhere(focus: str) -> str | None:
    return None


class UnknownFormat(ValueError):
    """An RDF file whose extension names no format Oxigraph reads."""


class UnreadableData(ValueError):
    """Data that does not parse as the format it claims (one line for the user)."""


@dataclass(frozen=True)
class Report:
    """What one validation found, in every form its readers use.

    ``conforms`` is SHACL's ``sh:conforms`` (no result at all, warnings included, as in the
    Turtle report); the build and ``senacs-kg validate`` refuse on ``violations`` only.
    """

    results: tuple[Result, ...]  # sorted, each once
    messages: dict[str, list[tuple[str, str]]]
    summary: str  # by shape, worst first, each focus node named by FILE:LINE when known

    @classmethod
    def of(cls, results: Iterable[Result], messages: dict[str, list[tuple[str, str]]],
           locate: Callable[[str], str | None] = _nowhere) -> Report:
        """The report of results gathered elsewhere (the build's batches, from its workers)."""
        distinct = sorted(set(results))
        return cls(tuple(distinct), messages, summarize(distinct, messages, locate))

    @property
    def violations(self) -> int:
        return sum(r.is_violation for r in self.results)

    @property
    def warnings(self) -> int:
        return len(self.results) - self.violations

    @property
    def conforms(self) -> bool:
        return not self.results

    def turtle(self) -> str:
        """The SHACL validation report in Turtle (same results, same bytes)."""
        return report_turtle(list(self.results), self.messages)


Data = bytes | Path | ox.Store | Graph


def validate(data: Data, shapes: Graph | Engine, *, engine: str = "sparql",
             vocabulary: Iterable[str] = (), base: str | None = None) -> Report:
    """Validate data with the shapes: the one way the CLI, the build and the tests run SHACL.

    ``data``: N-Triples bytes (a build batch), an RDF file (format from its extension), an
    Oxigraph store (read as it is) or an rdflib graph. ``shapes``: a shapes graph, validated
    by ``engine`` with ``vocabulary`` (N-Triples lines) added to the data, or an engine from
    :func:`make_engine` (its shapes compiled once for many batches). With ``base``, the
    summary names each focus node's record by FILE:LINE, read from the data's provenance.
    Raises UnknownFormat or UnreadableData for a file that cannot be read.
    """
    checker = shapes if isinstance(shapes, Engine) else make_engine(shapes, vocabulary, engine)
    if isinstance(checker, PyshaclValidator):
        if base is not None:
            raise ValueError("records are located through Oxigraph: use the sparql engine")
        return Report.of(checker.run(_as_graph(data, checker.vocabulary)), checker.messages)

    def run(store: ox.Store) -> Report:
        locate = store_locator(store, base) if base is not None else _nowhere
        return Report.of(checker.run(store), checker.messages, locate)

    return _in_store(data, checker.vocabulary, run)


def _file_format(path: Path) -> ox.RdfFormat:
    """The RDF format a file's name says (``dataset.ttl.gz``: Turtle, gzipped)."""
    named = path.with_suffix("") if _gzipped(path) else path
    fmt = ox.RdfFormat.from_extension(named.suffix.lstrip(".")) if named.suffix else None
    if fmt is None:
        raise UnknownFormat(f"{path}: unknown RDF format (use .nt, .ttl, .jsonld, .rdf, .nq or "
                            ".trig, or one of them gzipped: .ttl.gz…)")
    return fmt


def _gzipped(path: Path) -> bool:
    return path.suffix == ".gz"


def _in_store(data: Data, vocabulary: bytes, use: Callable[[ox.Store], Report]) -> Report:
    """``use`` applied to the data in an Oxigraph store: in memory for a batch, on disk for a
    file (a release can be millions of triples), closed before its folder is removed."""
    if isinstance(data, ox.Store):
        return use(data)
    if isinstance(data, Path):
        fmt = _file_format(data)
        with tempfile.TemporaryDirectory(prefix="senacs-kg-validate-") as tmp:
            store = ox.Store(tmp)
            if vocabulary:
                store.bulk_load(vocabulary, format=ox.RdfFormat.N_TRIPLES)
            try:
                if _gzipped(data):  # a release's dumps are published gzipped
                    with release.open_dump(data) as stream:
                        store.bulk_load(stream, format=fmt)
                else:
                    store.bulk_load(path=str(data), format=fmt)
            except (SyntaxError, ValueError, OSError, EOFError, zlib.error) as err:
                raise UnreadableData(f"{data}: not readable as {fmt.name}: {err}") from None
            try:
                return use(store)
            finally:
                del store
    if isinstance(data, Graph):
        data = data.serialize(format="nt", encoding="utf-8")
    store = ox.Store()
    store.bulk_load(vocabulary + data, format=ox.RdfFormat.N_TRIPLES)
    return use(store)


def _as_graph(data: Data, vocabulary: bytes) -> Graph:
    """The data as an rdflib graph, for pySHACL."""
    if isinstance(data, ox.Store):
        data = data.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph())
    if isinstance(data, bytes):
        return Graph().parse(data=(vocabulary + data).decode("utf-8"), format="nt")
    graph = Graph().parse(data=vocabulary.decode("utf-8"), format="nt")
    if isinstance(data, Graph):
        return graph + data if vocabulary else data
    from rdflib.util import guess_format

    fmt = _file_format(data)
    named = str(data.with_suffix("")) if _gzipped(data) else str(data)
    try:
        if _gzipped(data):
            with release.open_dump(data) as stream:
                return graph.parse(stream, format=guess_format(named) or "turtle")
        return graph.parse(data, format=guess_format(named) or "turtle")
    except Exception as err:  # rdflib raises many kinds; the user gets one line
        raise UnreadableData(f"{data}: not readable as {fmt.name}: {err}") from None
