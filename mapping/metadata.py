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
from mapping import tables

DUMP_DESCRIPTIONS = {  # fr, en
    "dataset.nt": ("Le graphe complet, une triple par ligne, triées : le fichier de référence de "
                   "la publication.", "The whole graph, one triple per line, sorted: the "
                   "release's reference file."),
    "dataset.nt.gz": ("Le même fichier N-Triples, compressé avec gzip.",
                      "The same N-Triples file, gzipped."),
    "dataset.ttl": ("Le graphe complet en Turtle, avec les préfixes du projet.",
                    "The whole graph as Turtle, with the project's prefixes."),
    "dataset.jsonld": ("Le graphe complet en JSON-LD.", "The whole graph as JSON-LD."),
}
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
# The tables' formats: media type (IANA), EU file type, name
TABLE_FORMATS = {"csv": ("text/csv", "CSV", "CSV"),
                 "parquet": ("application/vnd.apache.parquet", "PARQUET", "Parquet")}
IANA = "http://www.iana.org/assignments/media-types/"
EU = "http://publications.europa.eu/resource/authority/"
AVAILABILITY = "http://data.europa.eu/r5r/availability"  # dcatap:availability
# A release's files stay at /dumps/ until the next release, and at /release/{id}/dumps/ after
AVAILABLE = EU + "planned-availability/AVAILABLE"
ADMS_LICENCE_TYPE = "http://purl.org/adms/licencetype/"
ADMS_PUBLISHER_TYPE = "http://purl.org/adms/publishertype/"
# The ADMS licence types of the licences a publisher of open data in France is likely to give;
# another licence gets no dct:type (none is guessed).
LICENCE_TYPES = {
    "https://www.etalab.gouv.fr/licence-ouverte-open-licence": ("Attribution",),
    "https://www.etalab.gouv.fr/wp-content/uploads/2017/04/ETALAB-Licence-Ouverte-v2.0.pdf":
        ("Attribution",),
    "https://creativecommons.org/licenses/by/4.0/": ("Attribution",),
    EU + "licence/CC_BY_4_0": ("Attribution",),
    "https://creativecommons.org/licenses/by-sa/4.0/": ("Attribution", "ShareAlike"),
    "https://opendatacommons.org/licenses/odbl/1-0/": ("Attribution", "ShareAlike"),
    "https://creativecommons.org/publicdomain/zero/1.0/": ("PublicDomain",),
    EU + "licence/CC0": ("PublicDomain",),
}
LICENCE_TYPE_LABELS = {"Attribution": ("Attribution", "Attribution"),
                       "ShareAlike": ("Partage dans les mêmes conditions", "Share alike"),
                       "PublicDomain": ("Domaine public", "Public domain")}


DCAT, DCT = "http://www.w3.org/ns/dcat#", "http://purl.org/dc/terms/"
FOAF, VCARD = "http://xmlns.com/foaf/0.1/", "http://www.w3.org/2006/vcard/ns#"
SPDX, RDFS = "http://spdx.org/rdf/terms#", "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SPARQL_PROTOCOL = "https://www.w3.org/TR/sparql11-protocol/"


@dataclass
class MetadataConfig:
    publisher_name: str = "senacs-kg"
    contact_email: str | None = None
    license: str | None = None  # an IRI; none is claimed by default
    rights: str = DEFAULT_RIGHTS
    release_date: str | None = None  # YYYY-MM-DD from configuration


def _t(s: str, p: str, o: str) -> str:
    return f"{s} {p} {o} .\n"


def _p(namespace: str, name: str) -> str:
    """A property or class IRI in N-Triples form."""
    return nt.iri(namespace + name)


def catalog(base: str, files: dict[str, dict], config: MetadataConfig,
            keywords: list[str], spatial: list[str], period: tuple[str, str] | None,
            reference: dict | None = None) -> str:
    """The DCAT-AP 3 description of the release (N-Triples, sorted: stable bytes)."""
    rights = nt.iri(base + "dataset#rights")
    lines = [*_catalog_record(base, config), *_service(base), *_linked_classes(config),
             *_dataset(base, config, rights),
             *_coverage(base, keywords, spatial, period), *_reference_source(base, reference)]
    for name, media, filetype, fr_title, en_title in DUMPS:
        meta = files.get(name)
        if meta is not None:
            lines += _distribution(base, config, rights, name, meta, media, filetype,
                                   (fr_title, en_title), DUMP_DESCRIPTIONS[name])
    lines += _table_distributions(base, config, rights, files)
    lines += _recommended(base, config, spatial)
    return "".join(sorted(set(lines)))


def _table_distributions(base: str, config: MetadataConfig, rights: str,
                         files: dict[str, dict]) -> list[str]:
    """Each table's CSV and Parquet files, each conforming to the table's Table Schema (the
    Parquet file has the same columns, with the same types)."""
    lines = []
    for table, fmt, path in tables.table_files():
        meta = files.get(path)
        if meta is None:
            continue
        media, filetype, label = TABLE_FORMATS[fmt]
        titles = (f"Table « {table.title} » ({label})", f"Table \"{table.title_en}\" ({label})")
        descriptions = (f"{table.description} En {label} ; colonnes et types décrits par le Table "
                        "Schema de la table.",
                        f"The table '{table.name}' as {label}; its columns and types are described "
                        "by the table's Table Schema.")
        lines += _distribution(base, config, rights, path, meta, media, filetype, titles,
                               descriptions)
        schema = nt.iri(f"{base}dumps/{tables.schema_path(table)}")
        lines += [_t(_distribution_iri(base, path), _p(DCT, "conformsTo"), schema),
                  _t(schema, nt.RDF_TYPE, _p(DCT, "Standard")),
                  _t(schema, _p(DCT, "title"), nt.fr(f"Table Schema de la table « {table.title} »"))]
    return lines


def _distribution_iri(base: str, name: str) -> str:
    return nt.iri(f"{base}dataset#{name.replace('.', '-').replace('/', '-')}")


def _catalog_record(base: str, config: MetadataConfig) -> list[str]:
    """The catalog and its publisher: what data.gouv.fr harvests first."""
    cat, pub = nt.iri(base + "catalog"), nt.iri(base + "publisher")
    a = nt.RDF_TYPE
    lines = [
        _t(cat, a, _p(DCAT, "Catalog")),
        _t(cat, _p(DCT, "title"), nt.fr("Catalogue senacs-kg : fiches actions des centres sociaux")),
        _t(cat, _p(DCT, "title"), nt.lang("senacs-kg catalogue: action records of French social "
                                          "centres", "en")),
        _t(cat, _p(DCT, "description"), nt.fr(
            "Le graphe de connaissances des fiches actions des centres sociaux et espaces de vie "
            "sociale publiées par l'observatoire SENACS, ses téléchargements et son point d'accès "
            "SPARQL.")),
        _t(cat, _p(DCT, "description"), nt.lang(
            "The knowledge graph of the action records of French social centres published by the "
            "SENACS observatory, its downloads and its SPARQL endpoint.", "en")),
        _t(cat, _p(DCT, "publisher"), pub),
        _t(cat, _p(FOAF, "homepage"), nt.iri(base)),
        _t(cat, _p(DCT, "language"), nt.iri(EU + "language/FRA")),
        _t(cat, _p(DCAT, "dataset"), nt.iri(base + "dataset")),
        _t(cat, _p(DCAT, "service"), nt.iri(base + "sparql#service")),
        _t(pub, a, _p(FOAF, "Agent")),
        _t(pub, _p(FOAF, "name"), nt.text(config.publisher_name)),
    ]
    if config.release_date:
        lines.append(_t(cat, _p(DCT, "modified"), nt.typed(config.release_date, "date")))
    return lines


def _service(base: str) -> list[str]:
    """The SPARQL endpoint, as the DCAT data service that serves the dataset."""
    service, ds = nt.iri(base + "sparql#service"), nt.iri(base + "dataset")
    return [
        _t(service, nt.RDF_TYPE, _p(DCAT, "DataService")),
        _t(service, _p(DCT, "title"), nt.fr("Point d'accès SPARQL senacs-kg")),
        _t(service, _p(DCT, "title"), nt.lang("senacs-kg SPARQL endpoint", "en")),
        _t(service, _p(DCAT, "endpointURL"), nt.iri(base + "sparql")),
        _t(service, _p(DCAT, "endpointDescription"), nt.iri(base + "sparql")),
        _t(service, _p(DCAT, "servesDataset"), ds),
        _t(service, _p(DCT, "conformsTo"), nt.iri(SPARQL_PROTOCOL)),
    ]


def _linked_classes(config: MetadataConfig) -> list[str]:
    """DCAT-AP 3 checks the class of every linked resource: say what each one is."""
    a = nt.RDF_TYPE
    theme, themes = nt.iri(EU + "data-theme/SOCI"), nt.iri(EU + "data-theme")
    lines = [
        _t(nt.iri(EU + "language/FRA"), a, _p(DCT, "LinguisticSystem")),
        _t(nt.iri(EU + "frequency/IRREG"), a, _p(DCT, "Frequency")),
        _t(theme, a, _p(SKOS, "Concept")),
        _t(theme, _p(SKOS, "prefLabel"), nt.fr("Population et société")),
        _t(theme, _p(SKOS, "prefLabel"), nt.lang("Population and society", "en")),
        _t(theme, _p(SKOS, "inScheme"), themes),
        _t(themes, a, _p(SKOS, "ConceptScheme")),
        _t(themes, _p(DCT, "title"), nt.lang("Data theme", "en")),
        _t(nt.iri(SPARQL_PROTOCOL), a, _p(DCT, "Standard")),
        _t(_p(SPDX, "checksumAlgorithm_sha256"), a, _p(SPDX, "ChecksumAlgorithm")),
    ]
    if config.license:
        lines.append(_t(nt.iri(config.license), a, _p(DCT, "LicenseDocument")))
    return lines


def _dataset(base: str, config: MetadataConfig, rights: str) -> list[str]:
    """The dataset: what it is, who publishes it, under which rights, whom to contact."""
    ds, a = nt.iri(base + "dataset"), nt.RDF_TYPE
    lines = [
        _t(ds, a, _p(DCAT, "Dataset")),
        _t(ds, _p(DCT, "identifier"), nt.text(base + "dataset")),
        _t(ds, _p(DCT, "title"), nt.fr("Fiches actions des centres sociaux (SENACS)")),
        _t(ds, _p(DCT, "title"), nt.lang("Action records of French social centres (SENACS)",
                                         "en")),
        _t(ds, _p(DCT, "description"), nt.fr(
            "Les actions des centres sociaux et espaces de vie sociale décrites dans l'observatoire "
            "SENACS : structures, partenaires, thèmes, publics, moyens et résultats, avec les "
            "montants, effectifs et dates lus dans les textes et la provenance de chaque fiche.")),
        _t(ds, _p(DCT, "description"), nt.lang(
            "The actions of French social centres described in the SENACS observatory: structures, "
            "partners, themes, audiences, means and results, with the amounts, headcounts and dates "
            "read from the texts and the provenance of every record.", "en")),
        _t(ds, _p(DCT, "publisher"), nt.iri(base + "publisher")),
        _t(ds, _p(DCT, "language"), nt.iri(EU + "language/FRA")),
        _t(ds, _p(DCAT, "theme"), nt.iri(EU + "data-theme/SOCI")),
        _t(ds, _p(DCT, "accrualPeriodicity"), nt.iri(EU + "frequency/IRREG")),
        _t(ds, _p(DCAT, "landingPage"), nt.iri(base)),
        _t(nt.iri(base), a, _p(FOAF, "Document")),
        _t(ds, _p(DCT, "rights"), rights),
        _t(rights, a, _p(DCT, "RightsStatement")),
        _t(rights, _p(RDFS, "label"), nt.fr(config.rights)),
    ]
    if config.contact_email:
        contact = nt.iri(base + "contact")
        lines += [_t(ds, _p(DCAT, "contactPoint"), contact),
                  _t(contact, a, _p(VCARD, "Kind")),
                  _t(contact, _p(VCARD, "fn"), nt.text(config.publisher_name)),
                  _t(contact, _p(VCARD, "hasEmail"), nt.iri("mailto:" + config.contact_email))]
    if config.license:
        lines.append(_t(ds, _p(DCT, "license"), nt.iri(config.license)))
    if config.release_date:
        lines.append(_t(ds, _p(DCT, "modified"), nt.typed(config.release_date, "date")))
    return lines


def _coverage(base: str, keywords: list[str], spatial: list[str],
              period: tuple[str, str] | None) -> list[str]:
    """What the data covers, read from the records: keywords, departments, years of start."""
    ds, a = nt.iri(base + "dataset"), nt.RDF_TYPE
    lines = [_t(ds, _p(DCAT, "keyword"), nt.fr(word))
             for word in ["centres sociaux", "espaces de vie sociale", "SENACS", "action sociale",
                          *keywords]]
    for place in spatial:
        lines += [_t(ds, _p(DCT, "spatial"), nt.iri(place)),
                  _t(nt.iri(place), a, _p(DCT, "Location"))]
    if period:
        when = nt.iri(base + "dataset#period")
        lines += [_t(ds, _p(DCT, "temporal"), when), _t(when, a, _p(DCT, "PeriodOfTime")),
                  _t(when, _p(DCAT, "startDate"), nt.typed(period[0], "gYear")),
                  _t(when, _p(DCAT, "endDate"), nt.typed(period[1], "gYear"))]
    return lines


def _reference_source(base: str, reference: dict | None) -> list[str]:
    """The official data places and bodies were resolved with (``data/reference/source.json``),
    as the dataset's ``dct:source``: its vintage and the package version it came in."""
    if not reference:
        return []
    ds, a = nt.iri(base + "dataset"), nt.RDF_TYPE
    vintage, version = str(reference["vintage"]), str(reference["version"])
    src = nt.iri(f"{base}dataset#reference-{vintage}")
    year = nt.iri(f"{base}dataset#reference-{vintage}-year")
    return [
        _t(ds, _p(DCT, "source"), src),
        _t(src, a, _p(DCAT, "Dataset")),
        _t(src, _p(DCT, "title"), nt.fr(f"Code officiel géographique {vintage} (INSEE) et EPCI à "
                                        f"fiscalité propre (DGCL)")),
        _t(src, _p(DCT, "description"), nt.fr(
            f"Communes, départements, régions et EPCI avec leurs codes INSEE et SIREN, tels que "
            f"publiés par Etalab dans le paquet {reference['package']} {version} ; la sha256 de "
            f"son archive est {reference['tarball_sha256']}.")),
        _t(src, _p(DCAT, "version"), nt.text(version)),
        _t(src, _p(DCT, "temporal"), year),
        _t(year, a, _p(DCT, "PeriodOfTime")),
        _t(year, _p(DCAT, "startDate"),
           nt.typed(f"{vintage}-01-01", "date")),
        _t(year, _p(DCAT, "endDate"),
           nt.typed(f"{vintage}-12-31", "date")),
        *(_t(src, _p(DCAT, "keyword"), nt.fr(word))
          for word in ("code officiel géographique", "communes", "départements", "régions",
                       "EPCI", "SIREN")),
        _t(src, _p(DCT, "spatial"), nt.iri(EU + "country/FRA")),
        _t(nt.iri(EU + "country/FRA"), a, _p(DCT, "Location")),
        _t(src, _p(DCAT, "theme"), nt.iri(EU + "data-theme/REGI")),
        _t(nt.iri(EU + "data-theme/REGI"), a, _p(SKOS, "Concept")),
        _t(nt.iri(EU + "data-theme/REGI"), _p(SKOS, "prefLabel"), nt.fr("Régions et villes")),
        _t(nt.iri(EU + "data-theme/REGI"), _p(SKOS, "inScheme"), nt.iri(EU + "data-theme")),
        _t(src, _p(DCT, "publisher"), nt.iri(f"{base}dataset#etalab")),
        _t(nt.iri(f"{base}dataset#etalab"), a, _p(FOAF, "Agent")),
        _t(nt.iri(f"{base}dataset#etalab"), _p(FOAF, "name"), nt.text("Etalab")),
        _t(nt.iri(f"{base}dataset#etalab"), _p(DCT, "type"),
           nt.iri(ADMS_PUBLISHER_TYPE + "NationalAuthority")),
        *_concept(ADMS_PUBLISHER_TYPE + "NationalAuthority", "Autorité nationale",
                  "National authority"),
    ]


def _concept(iri: str, fr_label: str, en_label: str) -> list[str]:
    """A concept of a controlled vocabulary the catalog links to, with its labels."""
    return [_t(nt.iri(iri), nt.RDF_TYPE, _p(SKOS, "Concept")),
            _t(nt.iri(iri), _p(SKOS, "prefLabel"), nt.fr(fr_label)),
            _t(nt.iri(iri), _p(SKOS, "prefLabel"), nt.lang(en_label, "en"))]


def _recommended(base: str, config: MetadataConfig, spatial: list[str]) -> list[str]:
    """What DCAT-AP 3 recommends beyond its mandatory properties (portals score it: the
    data.europa.eu Metadata Quality Assessment), where it is true and known: the catalog's date,
    licence, places and theme scheme; the data service's keywords, theme, publisher and contact;
    the licence's type. Not known, so not said: the publisher's type (who publishes is
    configured, what kind of body it is is not) and the places' bounding boxes and centroids
    (the reference data has no geometry)."""
    cat, service = nt.iri(base + "catalog"), nt.iri(base + "sparql#service")
    lines = [_t(cat, _p(DCAT, "themeTaxonomy"), nt.iri(EU + "data-theme")),
             *(_t(cat, _p(DCT, "spatial"), nt.iri(place)) for place in spatial),
             _t(service, _p(DCT, "publisher"), nt.iri(base + "publisher")),
             _t(service, _p(DCAT, "theme"), nt.iri(EU + "data-theme/SOCI")),
             *(_t(service, _p(DCAT, "keyword"), nt.fr(word))
               for word in ("SPARQL", "centres sociaux", "espaces de vie sociale", "SENACS"))]
    if config.release_date:
        lines.append(_t(cat, _p(DCT, "issued"), nt.typed(config.release_date, "date")))
    if config.contact_email:
        lines.append(_t(service, _p(DCAT, "contactPoint"), nt.iri(base + "contact")))
    if config.license:
        licence = nt.iri(config.license)
        lines.append(_t(cat, _p(DCT, "license"), licence))
        for kind in LICENCE_TYPES.get(config.license, ()):
            lines += [_t(licence, _p(DCT, "type"), nt.iri(ADMS_LICENCE_TYPE + kind)),
                      *_concept(ADMS_LICENCE_TYPE + kind, *LICENCE_TYPE_LABELS[kind])]
    return lines


def _distribution(base: str, config: MetadataConfig, rights: str, name: str, meta: dict,
                  media: str, filetype: str, titles: tuple[str, str],
                  descriptions: tuple[str, str]) -> list[str]:
    """One dump as a distribution: its URL, media type, size and sha256, so that a harvester
    can check what it downloads."""
    ds, a = nt.iri(base + "dataset"), nt.RDF_TYPE
    dist = _distribution_iri(base, name)
    url = nt.iri(f"{base}dumps/{name}")
    checksum = nt.iri(dist[1:-1] + "-sha256")
    lines = [
        _t(ds, _p(DCAT, "distribution"), dist), _t(dist, a, _p(DCAT, "Distribution")),
        _t(dist, _p(DCT, "title"), nt.fr(titles[0])),
        _t(dist, _p(DCT, "title"), nt.lang(titles[1], "en")),
        _t(dist, _p(DCT, "description"), nt.fr(descriptions[0])),
        _t(dist, _p(DCT, "description"), nt.lang(descriptions[1], "en")),
        _t(dist, nt.iri(AVAILABILITY), nt.iri(AVAILABLE)),
        *_concept(AVAILABLE, "Disponible", "Available"),
        _t(dist, _p(DCAT, "accessURL"), url), _t(dist, _p(DCAT, "downloadURL"), url),
        _t(dist, _p(DCAT, "mediaType"), nt.iri(IANA + media)),
        _t(nt.iri(IANA + media), a, _p(DCT, "MediaType")),
        _t(dist, _p(DCT, "format"), nt.iri(EU + "file-type/" + filetype)),
        _t(nt.iri(EU + "file-type/" + filetype), a, _p(DCT, "MediaTypeOrExtent")),
        _t(dist, _p(DCAT, "byteSize"), nt.typed(str(meta["bytes"]), "nonNegativeInteger")),
        _t(dist, _p(SPDX, "checksum"), checksum),
        _t(checksum, a, _p(SPDX, "Checksum")),
        _t(checksum, _p(SPDX, "algorithm"), _p(SPDX, "checksumAlgorithm_sha256")),
        _t(checksum, _p(SPDX, "checksumValue"), nt.typed(meta["sha256"], "hexBinary")),
        _t(dist, _p(DCT, "rights"), rights),
    ]
    if config.license:
        lines.append(_t(dist, _p(DCT, "license"), nt.iri(config.license)))
    return lines


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
