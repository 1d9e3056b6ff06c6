"""Namespaces, the prefix table and IRI rules: the one place that says what our IRIs look like.

Every IRI of ours is minted here (:class:`Iris`, :func:`part`) and read back
here (:func:`part_kind`, :func:`part_of`, :func:`field_key`, :func:`hash_name`);
the dumps, the server's answers and the queries of the code declare the
prefixes of :data:`PREFIXES`. The endpoint and ``analysis/`` may import this
module. IRIs are readable and stable: they are computed from the values a
record states (structure name, department, title), never from the order of a
build or the clock.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import quote

from rdflib import Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, PROV, RDF, RDFS, SKOS, VOID, XSD

DEFAULT_BASE = "https://w3id.org/senacs-kg/"

SCHEMA = Namespace("https://schema.org/")
ORG = Namespace("http://www.w3.org/ns/org#")
IGEO = Namespace("http://rdf.insee.fr/def/geo#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
WD = Namespace("http://www.wikidata.org/entity/")

__all__ = ["ADMS", "DCAT", "DCTERMS", "IGEO", "ORG", "OWL", "PROV", "RDF", "RDFS", "SCHEMA",
           "SKOS", "VOID", "WD", "XSD", "Iris", "slug", "rebase", "DEFAULT_BASE", "PART_KINDS",
           "part", "part_kind", "field_key", "PREFIXES", "METADATA_PREFIXES", "prefixes",
           "sparql_prologue", "expand", "part_of", "hash_name", "SHORTCUTS"]

# senacs: properties that state directly what a qualified path already says, or an order of the
# release (README "The graph", Shortcuts): derived, so never a changed field in a changeset
SHORTCUTS = ("budgetTotalValue", "worksWith", "titleRank", "structureRank", "agentDepartment")

# The one prefix table. The release's Turtle dumps, the server's Turtle and RDF/XML answers and
# the query page's default query all use these names; ``{base}`` is the configured base.
PREFIXES: dict[str, str] = {
    "senacs": "{base}def#", "concept": "{base}concept/", "action": "{base}action/",
    "structure": "{base}structure/", "organisation": "{base}organisation/",
    "schema": str(SCHEMA), "dcterms": str(DCTERMS), "skos": str(SKOS), "prov": str(PROV),
    "org": str(ORG), "igeo": str(IGEO), "xsd": str(XSD), "rdf": str(RDF), "rdfs": str(RDFS),
}
# Added for the release's own descriptions (the DCAT catalog, the VoID description) only:
# declared in every data dump, they would be noise.
METADATA_PREFIXES: dict[str, str] = {
    "dcat": str(DCAT), "void": str(VOID), "foaf": str(FOAF),
    "spdx": "http://spdx.org/rdf/terms#", "vcard": "http://www.w3.org/2006/vcard/ns#",
}

# The parts of a resource that have hash IRIs of their own ({action}#amount-2, {action}#source):
# an action's attached files, extracted amounts, budget, headcounts, start date, provenance;
# a structure's placement (how its commune was found).
PART_KINDS = ("file", "amount", "budget", "headcount", "start", "source", "placement")
FIELD_PREFIX = "field-"  # {base}def#field-{key}: a field of the SENACS form

# What a path segment may hold as it is (RFC 3986 pchar); the rest is percent-encoded.
_SEGMENT_SAFE = "-._~!$&'()*+,;=:@"
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
SLUG_MAX = 60


def slug(text: str, max_len: int = SLUG_MAX) -> str:
    """A readable IRI segment: ASCII lower case, words joined by ``-``.

    ``"Café des parents (2019)"`` → ``cafe-des-parents-2019``. Long text is cut
    at a word boundary; text with no letter or digit gives ``sans-nom``.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = _NON_ALNUM.sub("-", ascii_text.lower()).strip("-")
    if len(words) > max_len:
        cut = words.rfind("-", 0, max_len + 1)
        words = words[:cut if cut > max_len // 2 else max_len].strip("-")
    return words or "sans-nom"


def prefixes(base: str = DEFAULT_BASE, metadata: bool = False) -> dict[str, str]:
    """The prefix table under ``base`` (name → namespace IRI), the metadata names too if asked."""
    table = {name: ns.format(base=base) for name, ns in PREFIXES.items()}
    return {**table, **METADATA_PREFIXES} if metadata else table


def sparql_prologue(base: str = DEFAULT_BASE, names: tuple[str, ...] | None = None) -> str:
    """``PREFIX`` lines for a SPARQL query: the given names of the table, or all of them."""
    table = prefixes(base)
    return "".join(f"PREFIX {name}: <{table[name]}>\n" for name in names or table)


def expand(name: str, base: str = DEFAULT_BASE) -> str:
    """The IRI a prefixed name of the table stands for: ``senacs:status`` is ``{base}def#status``."""
    prefix, sep, local = name.partition(":")
    table = prefixes(base)
    if not sep or prefix not in table:
        raise ValueError(f"{name!r} is not a prefixed name of vocab.PREFIXES")
    return table[prefix] + local


def rebase(text: str, base: str) -> str:
    """Turtle written under the default base (ontology, shapes, examples), moved onto ``base``."""
    return text if base == DEFAULT_BASE else text.replace(DEFAULT_BASE, base)


class Iris:
    """The IRI scheme of ../shared/DESIGN.md under one configurable base."""

    def __init__(self, base: str = DEFAULT_BASE) -> None:
        if not base.endswith("/"):
            base += "/"
        self.base = base
        self.DEF = Namespace(base + "def#")
        self.ontology = URIRef(base + "def")
        self.dataset = URIRef(base + "dataset")

    def _iri(self, *parts: str) -> URIRef:
        return URIRef(self.base + "/".join(parts))

    def action(self, structure_slug: str, title_slug: str) -> URIRef:
        return self._iri("action", structure_slug, title_slug)

    def structure(self, structure_slug: str) -> URIRef:
        return self._iri("structure", structure_slug)

    def organisation(self, org_slug: str) -> URIRef:
        return self._iri("organisation", org_slug)

    def concept(self, scheme: str, value_slug: str) -> URIRef:
        return self._iri("concept", scheme, value_slug)

    def scheme(self, scheme: str) -> URIRef:
        return self._iri("concept", scheme)

    def commune(self, insee_code: str) -> URIRef:
        return self._iri("place", "commune", insee_code)

    def department(self, code_or_slug: str) -> URIRef:
        return self._iri("place", "departement", code_or_slug)

    def region(self, code: str) -> URIRef:
        return self._iri("place", "region", code)

    def source(self, file_name: str) -> URIRef:
        """A source file, by its name: spaces and reserved characters percent-encoded."""
        return self._iri("source", quote(file_name, safe=_SEGMENT_SAFE))

    def field(self, key: str) -> URIRef:
        """A field of the SENACS form (an individual of the ontology)."""
        return self.DEF[FIELD_PREFIX + key.replace("_", "-")]

    @staticmethod
    def structure_slug(name: str, department: str | None) -> str:
        """Structures are told apart by name *and* department: generic names repeat.

        A name longer than a slug is cut, and gets 6 hex of the sha1 of its whole slug so
        that two long names that start alike stay two structures (case, accents and
        punctuation still do not count). Department codes are lower case (``2a``)."""
        short, whole = slug(name), slug(name, max_len=len(name) + 1)
        if short != whole:
            short += "-" + hashlib.sha1(whole.encode("ascii")).hexdigest()[:6]
        return short + ("-" + department.lower() if department else "")


def part(resource: str, kind: str, number: int | None = None) -> str:
    """The hash IRI of one part of a resource: ``part(a, "amount", 2)`` is ``{a}#amount-2``."""
    if kind not in PART_KINDS:
        raise ValueError(f"no part kind {kind!r}; one of {', '.join(PART_KINDS)}")
    return f"{resource}#{kind}" + (f"-{number}" if number is not None else "")


def part_kind(iri: str) -> str | None:
    """The kind of part a hash IRI names (``amount`` for ``…#amount-2``), None if none."""
    _, sep, fragment = iri.rpartition("#")
    kind = fragment.split("-", 1)[0]
    return kind if sep and kind in PART_KINDS else None


def field_key(iri: str) -> str | None:
    """The form field an IRI of ``Iris.field`` names (``territory-repeat``), None if none."""
    _, sep, fragment = iri.rpartition("#")
    return fragment[len(FIELD_PREFIX):] if sep and fragment.startswith(FIELD_PREFIX) else None


def part_of(iri: str) -> str | None:
    """The resource a part's hash IRI belongs to (``{a}`` for ``{a}#amount-2``), None if none."""
    return iri.rpartition("#")[0] if part_kind(iri) else None


def hash_name(iri: str) -> str:
    """The name after ``#`` in one of our hash IRIs: a shape (``{base}shapes#ActionShape``), an
    example query (``{base}.well-known/sparql-examples#actions-per-keyword``); the IRI if none."""
    return iri.rpartition("#")[2]
