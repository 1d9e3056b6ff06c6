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
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH, XSD

from mapping.vocab import hash_name, part_of

SUPPORTED = {SH["class"], SH.datatype, SH.nodeKind, SH.minCount, SH.maxCount, SH["in"],
             SH.languageIn, SH.pattern, SH.flags, SH.minLength, SH.minInclusive,
             SH.lessThanOrEquals}
# Shape-level terms that are not constraints.
NON_CONSTRAINTS = {RDF.type, SH.path, SH.severity, SH.message, SH.targetClass, SH.property,
                   SH.name, SH.description, SH.order, SH.group}
COMPONENT = {
    SH["class"]: SH.ClassConstraintComponent, SH.datatype: SH.DatatypeConstraintComponent,
    SH.nodeKind: SH.NodeKindConstraintComponent, SH.minCount: SH.MinCountConstraintComponent,
    SH.maxCount: SH.MaxCountConstraintComponent, SH["in"]: SH.InConstraintComponent,
    SH.languageIn: SH.LanguageInConstraintComponent, SH.pattern: SH.PatternConstraintComponent,
    SH.minLength: SH.MinLengthConstraintComponent,
    SH.minInclusive: SH.MinInclusiveConstraintComponent,
    SH.lessThanOrEquals: SH.LessThanOrEqualsConstraintComponent,
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
    raise UnsupportedShape(f"unsupported sh:path {path!r}: only predicates and sequences")


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
    """Every constraint of every shape with a sh:targetClass, as one SPARQL query each."""
    checks: list[Check] = []
    for node_shape in sorted(shapes.subjects(SH.targetClass, None), key=str):
        for cls in shapes.objects(node_shape, SH.targetClass):
            target = TARGET.format(cls=_term(cls))
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

    def validate_ntriples(self, data: bytes) -> list[Result]:
        """Validate one batch: its N-Triples plus the vocabulary, in a fresh in-memory store."""
        store = ox.Store()
        store.bulk_load(self.vocabulary + data, format=ox.RdfFormat.N_TRIPLES)
        return self.run(store)

    def validate_batches(self, batches: Iterable[bytes]) -> Iterator[list[Result]]:
        for batch in batches:
            yield self.validate_ntriples(batch)


class PyshaclValidator:
    """The reference engine: pySHACL over the same batches (slow; for checking and comparing)."""

    def __init__(self, shapes: Graph, vocabulary: Iterable[str] = ()) -> None:
        self.shapes = shapes
        self.vocabulary = "".join(vocabulary)
        self.messages = messages_of(shapes)

    def validate_ntriples(self, data: bytes) -> list[Result]:
        import pyshacl

        graph = Graph()
        graph.parse(data=self.vocabulary + data.decode("utf-8"), format="nt")
        _, report, _ = pyshacl.validate(graph, shacl_graph=self.shapes, inference="none")
        return sorted(results_of_report(report, self.shapes))


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
    """``<a>`` stays; a sequence ``<a>/<b>`` becomes the list ``( <a> <b> )``."""
    steps = path.split(">/<")
    if len(steps) == 1:
        return path
    return "( " + " ".join(f"<{s.strip('<>')}>" for s in steps) + " )"


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
