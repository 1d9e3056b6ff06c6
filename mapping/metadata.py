"""Dataset metadata written into each release: a DCAT-AP 3 catalog and a VoID description.

Both are plain Turtle built from the release itself (file sizes and checksums,
counts per class and property) and from configuration (publisher, contact,
licence, release date), never from the clock, so that a rebuild gives the same
bytes. data.gouv.fr harvests plain Turtle, RDF/XML or JSON-LD DCAT; the server
offers all three. The licence is configurable: the senacs.fr usage charter
restricts reuse, so none is claimed unless given; a rights statement says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from mapping import ntriples as nt

DUMPS = (  # file, media type, EU file type, title fr, title en
    ("dataset.nt", "application/n-triples", "RDF_N_TRIPLES", "Graphe complet en N-Triples",
     "Whole graph as N-Triples"),
    ("dataset.nt.gz", "application/gzip", "GZIP", "Graphe complet en N-Triples compressé (gzip)",
     "Whole graph as gzipped N-Triples"),
    ("dataset.ttl", "text/turtle", "RDF_TURTLE", "Graphe complet en Turtle", "Whole graph as Turtle"),
    ("dataset.jsonld", "application/ld+json", "JSON_LD", "Graphe complet en JSON-LD",
     "Whole graph as JSON-LD"),
)
VOCABULARIES = ("https://schema.org/", "http://www.w3.org/ns/org#",
                "http://www.w3.org/2004/02/skos/core#", "http://purl.org/dc/terms/",
                "http://www.w3.org/ns/prov#", "http://rdf.insee.fr/def/geo#")
DEFAULT_RIGHTS = ("Les données proviennent de l'observatoire SENACS (https://www.senacs.fr/) ; leur "
                  "réutilisation est soumise à la charte d'utilisation de SENACS. Aucune licence "
                  "n'est accordée par cette publication.")
IANA = "http://www.iana.org/assignments/media-types/"
EU = "http://publications.europa.eu/resource/authority/"


@dataclass
class MetadataConfig:
    publisher_name: str = "senacs-kg"
    contact_email: str | None = None
    license: str | None = None  # an IRI; none is claimed by default
    rights: str = DEFAULT_RIGHTS
    release_date: str | None = None  # YYYY-MM-DD from configuration


def _t(s: str, p: str, o: str) -> str:
    return f"{s} {p} {o} .\n"


def catalog(base: str, files: dict[str, dict], config: MetadataConfig,
            keywords: list[str], spatial: list[str], period: tuple[str, str] | None) -> str:
    """The DCAT-AP 3 description of the release (N-Triples, sorted: stable bytes)."""
    dcat, dct = "http://www.w3.org/ns/dcat#", "http://purl.org/dc/terms/"
    foaf, vcard = "http://xmlns.com/foaf/0.1/", "http://www.w3.org/2006/vcard/ns#"
    spdx, rdfs = "http://spdx.org/rdf/terms#", "http://www.w3.org/2000/01/rdf-schema#"
    a = nt.RDF_TYPE
    cat, ds, pub = nt.iri(base + "catalog"), nt.iri(base + "dataset"), nt.iri(base + "publisher")
    service = nt.iri(base + "sparql#service")
    lines = [
        _t(cat, a, nt.iri(dcat + "Catalog")),
        _t(cat, nt.iri(dct + "title"), nt.fr("Catalogue senacs-kg : fiches actions des centres sociaux")),
        _t(cat, nt.iri(dct + "title"), nt.lang("senacs-kg catalogue: action records of French social "
                                               "centres", "en")),
        _t(cat, nt.iri(dct + "description"), nt.fr(
            "Le graphe de connaissances des fiches actions des centres sociaux et espaces de vie "
            "sociale publiées par l'observatoire SENACS, ses téléchargements et son point d'accès "
            "SPARQL.")),
        _t(cat, nt.iri(dct + "description"), nt.lang(
            "The knowledge graph of the action records of French social centres published by the "
            "SENACS observatory, its downloads and its SPARQL endpoint.", "en")),
        _t(cat, nt.iri(dct + "publisher"), pub),
        _t(cat, nt.iri(foaf + "homepage"), nt.iri(base)),
        _t(cat, nt.iri(dct + "language"), nt.iri(EU + "language/FRA")),
        _t(cat, nt.iri(dcat + "dataset"), ds),
        _t(cat, nt.iri(dcat + "service"), service),
        _t(pub, a, nt.iri(foaf + "Agent")),
        _t(pub, nt.iri(foaf + "name"), nt.text(config.publisher_name)),
        _t(ds, a, nt.iri(dcat + "Dataset")),
        _t(ds, nt.iri(dct + "identifier"), nt.text(base + "dataset")),
        _t(ds, nt.iri(dct + "title"), nt.fr("Fiches actions des centres sociaux (SENACS)")),
        _t(ds, nt.iri(dct + "title"), nt.lang("Action records of French social centres (SENACS)",
                                              "en")),
        _t(ds, nt.iri(dct + "description"), nt.fr(
            "Les actions des centres sociaux et espaces de vie sociale décrites dans l'observatoire "
            "SENACS : structures, partenaires, thèmes, publics, moyens et résultats, avec les "
            "montants, effectifs et dates lus dans les textes et la provenance de chaque fiche.")),
        _t(ds, nt.iri(dct + "description"), nt.lang(
            "The actions of French social centres described in the SENACS observatory: structures, "
            "partners, themes, audiences, means and results, with the amounts, headcounts and dates "
            "read from the texts and the provenance of every record.", "en")),
        _t(ds, nt.iri(dct + "publisher"), pub),
        _t(ds, nt.iri(dct + "language"), nt.iri(EU + "language/FRA")),
        _t(ds, nt.iri(dcat + "theme"), nt.iri(EU + "data-theme/SOCI")),
        _t(ds, nt.iri(dct + "accrualPeriodicity"), nt.iri(EU + "frequency/IRREG")),
        _t(ds, nt.iri(dcat + "landingPage"), nt.iri(base)),
        _t(service, a, nt.iri(dcat + "DataService")),
        _t(service, nt.iri(dct + "title"), nt.fr("Point d'accès SPARQL senacs-kg")),
        _t(service, nt.iri(dct + "title"), nt.lang("senacs-kg SPARQL endpoint", "en")),
        _t(service, nt.iri(dcat + "endpointURL"), nt.iri(base + "sparql")),
        _t(service, nt.iri(dcat + "endpointDescription"), nt.iri(base + "sparql")),
        _t(service, nt.iri(dcat + "servesDataset"), ds),
        _t(service, nt.iri(dct + "conformsTo"), nt.iri("https://www.w3.org/TR/sparql11-protocol/")),
    ]
    # DCAT-AP 3 checks the class of every linked resource: say what each one is.
    theme, themes = nt.iri(EU + "data-theme/SOCI"), nt.iri(EU + "data-theme")
    skos = "http://www.w3.org/2004/02/skos/core#"
    lines += [
        _t(nt.iri(EU + "language/FRA"), a, nt.iri(dct + "LinguisticSystem")),
        _t(nt.iri(EU + "frequency/IRREG"), a, nt.iri(dct + "Frequency")),
        _t(theme, a, nt.iri(skos + "Concept")),
        _t(theme, nt.iri(skos + "prefLabel"), nt.fr("Population et société")),
        _t(theme, nt.iri(skos + "prefLabel"), nt.lang("Population and society", "en")),
        _t(theme, nt.iri(skos + "inScheme"), themes),
        _t(themes, a, nt.iri(skos + "ConceptScheme")),
        _t(themes, nt.iri(dct + "title"), nt.lang("Data theme", "en")),
        _t(nt.iri(base), a, nt.iri(foaf + "Document")),
        _t(nt.iri("https://www.w3.org/TR/sparql11-protocol/"), a, nt.iri(dct + "Standard")),
        _t(nt.iri(spdx + "checksumAlgorithm_sha256"), a, nt.iri(spdx + "ChecksumAlgorithm")),
    ]
    if config.license:
        lines.append(_t(nt.iri(config.license), a, nt.iri(dct + "LicenseDocument")))
    for word in ["centres sociaux", "espaces de vie sociale", "SENACS", "action sociale",
                 *keywords]:
        lines.append(_t(ds, nt.iri(dcat + "keyword"), nt.fr(word)))
    for place in spatial:
        lines += [_t(ds, nt.iri(dct + "spatial"), nt.iri(place)),
                  _t(nt.iri(place), a, nt.iri(dct + "Location"))]
    if period:
        when = nt.iri(base + "dataset#period")
        lines += [_t(ds, nt.iri(dct + "temporal"), when), _t(when, a, nt.iri(dct + "PeriodOfTime")),
                  _t(when, nt.iri(dcat + "startDate"), nt.typed(period[0], "gYear")),
                  _t(when, nt.iri(dcat + "endDate"), nt.typed(period[1], "gYear"))]
    if config.contact_email:
        contact = nt.iri(base + "contact")
        lines += [_t(ds, nt.iri(dcat + "contactPoint"), contact),
                  _t(contact, a, nt.iri(vcard + "Kind")),
                  _t(contact, nt.iri(vcard + "fn"), nt.text(config.publisher_name)),
                  _t(contact, nt.iri(vcard + "hasEmail"), nt.iri("mailto:" + config.contact_email))]
    if config.license:
        lines.append(_t(ds, nt.iri(dct + "license"), nt.iri(config.license)))
    rights = nt.iri(base + "dataset#rights")
    lines += [_t(ds, nt.iri(dct + "rights"), rights),
              _t(rights, a, nt.iri(dct + "RightsStatement")),
              _t(rights, nt.iri(rdfs + "label"), nt.fr(config.rights))]
    if config.release_date:
        for s in (cat, ds):
            lines.append(_t(s, nt.iri(dct + "modified"), nt.typed(config.release_date, "date")))
    for name, media, filetype, fr_title, en_title in DUMPS:
        meta = files.get(name)
        if meta is None:
            continue
        dist = nt.iri(f"{base}dataset#{name.replace('.', '-')}")
        url = nt.iri(f"{base}dumps/{name}")
        checksum = nt.iri(f"{base}dataset#{name.replace('.', '-')}-sha256")
        lines += [
            _t(ds, nt.iri(dcat + "distribution"), dist), _t(dist, a, nt.iri(dcat + "Distribution")),
            _t(dist, nt.iri(dct + "title"), nt.fr(fr_title)),
            _t(dist, nt.iri(dct + "title"), nt.lang(en_title, "en")),
            _t(dist, nt.iri(dcat + "accessURL"), url), _t(dist, nt.iri(dcat + "downloadURL"), url),
            _t(dist, nt.iri(dcat + "mediaType"), nt.iri(IANA + media)),
            _t(nt.iri(IANA + media), a, nt.iri(dct + "MediaType")),
            _t(dist, nt.iri(dct + "format"), nt.iri(EU + "file-type/" + filetype)),
            _t(nt.iri(EU + "file-type/" + filetype), a, nt.iri(dct + "MediaTypeOrExtent")),
            _t(dist, nt.iri(dcat + "byteSize"), nt.typed(str(meta["bytes"]), "nonNegativeInteger")),
            _t(dist, nt.iri(spdx + "checksum"), checksum),
            _t(checksum, a, nt.iri(spdx + "Checksum")),
            _t(checksum, nt.iri(spdx + "algorithm"), nt.iri(spdx + "checksumAlgorithm_sha256")),
            _t(checksum, nt.iri(spdx + "checksumValue"), nt.typed(meta["sha256"], "hexBinary")),
        ]
        if config.license:
            lines.append(_t(dist, nt.iri(dct + "license"), nt.iri(config.license)))
        lines.append(_t(dist, nt.iri(dct + "rights"), rights))
    return "".join(sorted(set(lines)))


def void(base: str, counts: dict, example: str | None) -> str:
    """The VoID description: size, partitions by class and property, access points (N-Triples)."""
    v, dct = "http://rdfs.org/ns/void#", "http://purl.org/dc/terms/"
    ds = nt.iri(base + "dataset")
    integer = nt.integer
    lines = [
        _t(ds, nt.RDF_TYPE, nt.iri(v + "Dataset")),
        _t(ds, nt.iri(dct + "title"), nt.fr("Fiches actions des centres sociaux (SENACS)")),
        _t(ds, nt.iri(v + "triples"), integer(counts["triples"])),
        _t(ds, nt.iri(v + "entities"), integer(counts["entities"])),
        _t(ds, nt.iri(v + "distinctSubjects"), integer(counts["subjects"])),
        _t(ds, nt.iri(v + "classes"), integer(len(counts["classes"]))),
        _t(ds, nt.iri(v + "properties"), integer(len(counts["properties"]))),
        _t(ds, nt.iri(v + "sparqlEndpoint"), nt.iri(base + "sparql")),
        _t(ds, nt.iri(v + "uriSpace"), nt.text(base)),
        _t(ds, nt.iri(v + "feature"), nt.iri("http://www.w3.org/ns/formats/N-Triples")),
        _t(ds, nt.iri(v + "feature"), nt.iri("http://www.w3.org/ns/formats/Turtle")),
        _t(ds, nt.iri(v + "vocabulary"), nt.iri(base + "def#")),
    ]
    lines += [_t(ds, nt.iri(v + "vocabulary"), nt.iri(vocab)) for vocab in VOCABULARIES]
    lines += [_t(ds, nt.iri(v + "dataDump"), nt.iri(f"{base}dumps/{name}")) for name, *_ in DUMPS]
    if example:
        lines.append(_t(ds, nt.iri(v + "exampleResource"), nt.iri(example)))
    for n, (cls, count) in enumerate(sorted(counts["classes"].items())):
        part = nt.iri(f"{base}dataset#class-{n}")
        lines += [_t(ds, nt.iri(v + "classPartition"), part), _t(part, nt.iri(v + "class"), cls),
                  _t(part, nt.iri(v + "entities"), integer(count))]
    for n, (prop, count) in enumerate(sorted(counts["properties"].items())):
        part = nt.iri(f"{base}dataset#property-{n}")
        lines += [_t(ds, nt.iri(v + "propertyPartition"), part),
                  _t(part, nt.iri(v + "property"), prop),
                  _t(part, nt.iri(v + "triples"), integer(count))]
    return "".join(sorted(set(lines)))
