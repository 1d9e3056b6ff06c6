"""Dataset metadata written into each release: a DCAT-AP 3 catalog and a VoID description.

Both are plain Turtle built from the release itself (file sizes and checksums,
counts per class and property) and from configuration (publisher, contact,
licence, release date), never from the clock, so that a rebuild gives the same
bytes. data.gouv.fr harvests plain Turtle, RDF/XML or JSON-LD DCAT; the server
offers all three. The licence is configurable: the senacs.fr usage charter
restricts reuse, so none is claimed unless given; a rights statement says so.

A release of a series (``build --series``) is described where it stays for ever: its dataset is
``{base}release/{id}/dataset``, its files ``{base}release/{id}/dumps/…``, its endpoint
``{base}release/{id}/sparql``; the dataset says its place in the series (DCAT 3 ``dcat:inSeries``,
``dcat:version``, ``dcat:prev`` and ``dcat:previousVersion``) and lists its changeset files as
distributions. The series' own catalog is ``mapping/series_catalog.py``'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from mapping import ntriples as nt
from mapping import tables

SERVED_DECODED = ("Servi aussi décompressé à la même adresse sans « .gz » (compressé pour les "
                  "clients qui acceptent gzip).", "Also served decompressed at the same URL "
                  "without \".gz\" (gzip-encoded for clients that accept gzip).")
DUMP_DESCRIPTIONS = {  # fr, en
    "dataset.nt.gz": ("Le graphe complet, une triple par ligne, triées, compressé avec gzip : le "
                      "fichier de référence de la publication. " + SERVED_DECODED[0],
                      "The whole graph, one triple per line, sorted, gzipped: the release's "
                      "reference file. " + SERVED_DECODED[1]),
    "dataset.nt": ("Le graphe complet, une triple par ligne, triées : le fichier de référence de "
                   "la publication.", "The whole graph, one triple per line, sorted: the "
                   "release's reference file."),
    "dataset.ttl.gz": ("Le graphe complet en Turtle, avec les préfixes du projet, compressé avec "
                       "gzip. " + SERVED_DECODED[0],
                       "The whole graph as Turtle, with the project's prefixes, gzipped. "
                       + SERVED_DECODED[1]),
    "dataset.jsonld.gz": ("Le graphe complet en JSON-LD, compressé avec gzip. " + SERVED_DECODED[0],
                          "The whole graph as JSON-LD, gzipped. " + SERVED_DECODED[1]),
    "dataset.ttl": ("Le graphe complet en Turtle, avec les préfixes du projet.",
                    "The whole graph as Turtle, with the project's prefixes."),
    "dataset.jsonld": ("Le graphe complet en JSON-LD.", "The whole graph as JSON-LD."),
}
# The dumps: file, media type (of the content: a gzipped file says so by dcat:compressFormat, as
# DCAT 3 shows for a gzipped CSV), EU file type, title fr, title en. The dumps are published
# gzipped only (mapping/release.py).
DUMPS = (
    ("dataset.nt.gz", "application/n-triples", "RDF_N_TRIPLES",
     "Graphe complet en N-Triples compressé (gzip)", "Whole graph as gzipped N-Triples"),
    ("dataset.ttl.gz", "text/turtle", "RDF_TURTLE", "Graphe complet en Turtle compressé (gzip)",
     "Whole graph as gzipped Turtle"),
    ("dataset.jsonld.gz", "application/ld+json", "JSON_LD",
     "Graphe complet en JSON-LD compressé (gzip)", "Whole graph as gzipped JSON-LD"),
)
GZIP = "application/gzip"  # dcat:compressFormat of a .gz dump (IANA)
# The plain dumps of a release built before they were gzipped only: described where such a
# release is (a series' catalog describes an old release from its manifest), never written.
PLAIN_DUMPS_BEFORE = (
    ("dataset.nt", "application/n-triples", "RDF_N_TRIPLES", "Graphe complet en N-Triples",
     "Whole graph as N-Triples"),
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
ADMS = "http://www.w3.org/ns/adms#"
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


@dataclass(frozen=True)
class SeriesRelease:
    """A release of a series, as its own catalog places it: its id, the release it follows and
    what changed since (the manifest's ``changes``: triples and resources added, removed...)."""

    id: str
    previous: str | None = None
    changes: dict | None = None


@dataclass(frozen=True)
class Place:
    """Where a description puts things: a single release at the plain IRIs (``root`` is the
    base), a series release under ``{base}release/{id}/``, where its files stay for ever."""

    base: str
    root: str

    @classmethod
    def of(cls, base: str, release_id: str | None = None) -> Place:
        return cls(base, base if release_id is None else release_root(base, release_id))

    @property
    def catalog(self) -> str:
        return self.root + "catalog"

    @property
    def dataset(self) -> str:
        return self.root + "dataset"

    @property
    def service(self) -> str:
        return self.root + "sparql#service"

    def dump(self, name: str) -> str:
        return f"{self.root}dumps/{name}"


def release_root(base: str, release_id: str) -> str:
    """Where release ``release_id`` of a series is served (``/release/{id}/``)."""
    return f"{base}release/{release_id}/"


def _t(s: str, p: str, o: str) -> str:
    return f"{s} {p} {o} .\n"


def _p(namespace: str, name: str) -> str:
    """A property or class IRI in N-Triples form."""
    return nt.iri(namespace + name)


def catalog(base: str, files: dict[str, dict], config: MetadataConfig,
            keywords: list[str], spatial: list[str], period: tuple[str, str] | None,
            reference: dict | None = None, release: SeriesRelease | None = None) -> str:
    """The DCAT-AP 3 description of the release (N-Triples, sorted: stable bytes); with
    ``release``, of that release of a series, at its own IRIs."""
    where = Place.of(base, release.id if release else None)
    rights = nt.iri(where.dataset + "#rights")
    lines = [*_catalog_record(where, config, release), *_service(where, release),
             *_linked_classes(config), *_dataset(where, config, rights, release),
             *_coverage(where, keywords, spatial, period), *_reference_source(where, reference)]
    for name, media, filetype, fr_title, en_title in (*DUMPS, *PLAIN_DUMPS_BEFORE):
        meta = files.get(name)
        if meta is not None:
            lines += _distribution(where, config, rights, name, meta, media, filetype,
                                   (fr_title, en_title), DUMP_DESCRIPTIONS[name],
                                   GZIP if name.endswith(".gz") else None)
    lines += _table_distributions(where, config, rights, files)
    lines += _recommended(where, config, spatial)
    if release is not None:
        lines += [*_in_series(where, config, release),
                  *_changes_distributions(where, config, rights, files, release)]
    return "".join(sorted(set(lines)))


def _table_distributions(where: Place, config: MetadataConfig, rights: str,
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
        lines += _distribution(where, config, rights, path, meta, media, filetype, titles,
                               descriptions)
        schema = nt.iri(where.dump(tables.schema_path(table)))
        lines += [_t(_distribution_iri(where, path), _p(DCT, "conformsTo"), schema),
                  _t(schema, nt.RDF_TYPE, _p(DCT, "Standard")),
                  _t(schema, _p(DCT, "title"), nt.fr(f"Table Schema de la table « {table.title} »"))]
    return lines


def _distribution_iri(where: Place, name: str) -> str:
    return nt.iri(f"{where.dataset}#{name.replace('.', '-').replace('/', '-')}")


def _catalog_record(where: Place, config: MetadataConfig,
                    release: SeriesRelease | None = None) -> list[str]:
    """The catalog and its publisher: what data.gouv.fr harvests first."""
    cat, pub = nt.iri(where.catalog), nt.iri(where.base + "publisher")
    a = nt.RDF_TYPE
    fr_of, en_of = (f" de la publication {release.id}", f" of release {release.id}") \
        if release else ("", "")
    lines = [
        _t(cat, a, _p(DCAT, "Catalog")),
        _t(cat, _p(DCT, "title"), nt.fr(f"Catalogue senacs-kg{fr_of} : fiches actions des "
                                        "centres sociaux")),
        _t(cat, _p(DCT, "title"), nt.lang(f"senacs-kg catalogue{en_of}: action records of French "
                                          "social centres", "en")),
        _t(cat, _p(DCT, "description"), nt.fr(
            "Le graphe de connaissances des fiches actions des centres sociaux et espaces de vie "
            "sociale publiées par l'observatoire SENACS, ses téléchargements et son point d'accès "
            "SPARQL.")),
        _t(cat, _p(DCT, "description"), nt.lang(
            "The knowledge graph of the action records of French social centres published by the "
            "SENACS observatory, its downloads and its SPARQL endpoint.", "en")),
        _t(cat, _p(DCT, "publisher"), pub),
        _t(cat, _p(FOAF, "homepage"), nt.iri(where.root)),
        _t(cat, _p(DCT, "language"), nt.iri(EU + "language/FRA")),
        _t(cat, _p(DCAT, "dataset"), nt.iri(where.dataset)),
        _t(cat, _p(DCAT, "service"), nt.iri(where.service)),
        _t(pub, a, _p(FOAF, "Agent")),
        _t(pub, _p(FOAF, "name"), nt.text(config.publisher_name)),
    ]
    if config.release_date:
        lines.append(_t(cat, _p(DCT, "modified"), nt.typed(config.release_date, "date")))
    return lines


def _service(where: Place, release: SeriesRelease | None = None) -> list[str]:
    """The SPARQL endpoint, as the DCAT data service that serves the dataset (a series
    release's is its own, ``/release/{id}/sparql``: queries pinned to it)."""
    service, ds = nt.iri(where.service), nt.iri(where.dataset)
    fr_of, en_of = (f" de la publication {release.id}", f" of release {release.id}") \
        if release else ("", "")
    return [
        _t(service, nt.RDF_TYPE, _p(DCAT, "DataService")),
        _t(service, _p(DCT, "title"), nt.fr(f"Point d'accès SPARQL senacs-kg{fr_of}")),
        _t(service, _p(DCT, "title"), nt.lang(f"senacs-kg SPARQL endpoint{en_of}", "en")),
        _t(service, _p(DCAT, "endpointURL"), nt.iri(where.root + "sparql")),
        _t(service, _p(DCAT, "endpointDescription"), nt.iri(where.root + "sparql")),
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


TITLES = ("Fiches actions des centres sociaux (SENACS)",
          "Action records of French social centres (SENACS)")
DESCRIPTIONS = (
    "Les actions des centres sociaux et espaces de vie sociale décrites dans l'observatoire "
    "SENACS : structures, partenaires, thèmes, publics, moyens et résultats, avec les montants, "
    "effectifs et dates lus dans les textes et la provenance de chaque fiche.",
    "The actions of French social centres described in the SENACS observatory: structures, "
    "partners, themes, audiences, means and results, with the amounts, headcounts and dates read "
    "from the texts and the provenance of every record.")


def _dataset(where: Place, config: MetadataConfig, rights: str,
             release: SeriesRelease | None = None) -> list[str]:
    """The dataset: what it is, who publishes it, under which rights, whom to contact (a series
    release's title names it, as DCAT-AP advises for the members of a series)."""
    ds, a = nt.iri(where.dataset), nt.RDF_TYPE
    fr_title, en_title = TITLES
    if release is not None:
        fr_title, en_title = (f"{fr_title}, publication {release.id}",
                              f"{en_title}, release {release.id}")
    lines = [
        _t(ds, a, _p(DCAT, "Dataset")),
        _t(ds, _p(DCT, "identifier"), nt.text(where.dataset)),
        _t(ds, _p(DCT, "title"), nt.fr(fr_title)),
        _t(ds, _p(DCT, "title"), nt.lang(en_title, "en")),
        _t(ds, _p(DCT, "description"), nt.fr(DESCRIPTIONS[0])),
        _t(ds, _p(DCT, "description"), nt.lang(DESCRIPTIONS[1], "en")),
        _t(ds, _p(DCT, "publisher"), nt.iri(where.base + "publisher")),
        _t(ds, _p(DCT, "language"), nt.iri(EU + "language/FRA")),
        _t(ds, _p(DCAT, "theme"), nt.iri(EU + "data-theme/SOCI")),
        _t(ds, _p(DCT, "accrualPeriodicity"), nt.iri(EU + "frequency/IRREG")),
        _t(ds, _p(DCAT, "landingPage"), nt.iri(where.root)),
        _t(nt.iri(where.root), a, _p(FOAF, "Document")),
        _t(ds, _p(DCT, "rights"), rights),
        _t(rights, a, _p(DCT, "RightsStatement")),
        _t(rights, _p(RDFS, "label"), nt.fr(config.rights)),
    ]
    if config.contact_email:
        contact = nt.iri(where.base + "contact")
        lines += [_t(ds, _p(DCAT, "contactPoint"), contact),
                  _t(contact, a, _p(VCARD, "Kind")),
                  _t(contact, _p(VCARD, "fn"), nt.text(config.publisher_name)),
                  _t(contact, _p(VCARD, "hasEmail"), nt.iri("mailto:" + config.contact_email))]
    if config.license:
        lines.append(_t(ds, _p(DCT, "license"), nt.iri(config.license)))
    if config.release_date:
        lines.append(_t(ds, _p(DCT, "modified"), nt.typed(config.release_date, "date")))
    return lines


def series_node(base: str) -> list[str]:
    """The series, ``{base}dataset``, as much as a member's catalog says of it: a
    ``dcat:DatasetSeries``, its titles and descriptions. It is typed ``dcat:Dataset`` too, as
    DCAT 3 makes every series one (a subclass), since neither DCAT-AP's shapes nor most
    harvesters infer it, and a catalog's ``dcat:dataset`` must be a ``dcat:Dataset``."""
    series, a = nt.iri(base + "dataset"), nt.RDF_TYPE
    return [_t(series, a, _p(DCAT, "DatasetSeries")), _t(series, a, _p(DCAT, "Dataset")),
            _t(series, _p(DCT, "title"), nt.fr(TITLES[0])),
            _t(series, _p(DCT, "title"), nt.lang(TITLES[1], "en")),
            _t(series, _p(DCT, "description"), nt.fr(DESCRIPTIONS[0])),
            _t(series, _p(DCT, "description"), nt.lang(DESCRIPTIONS[1], "en"))]


def _in_series(where: Place, config: MetadataConfig, release: SeriesRelease) -> list[str]:
    """The release's place in its series, in DCAT 3's two readings, both true here: a member
    of an ordered series (``dcat:inSeries``, ``dcat:prev``), and a version of one dataset whose
    IRIs stay from campaign to campaign and whose changes are published (``dcat:version``,
    ``dcat:previousVersion``, ``adms:versionNotes``); DCAT-AP 3 advises the series terms, with
    versioning "when the connection is very strong or the result of an automated process"."""
    ds = nt.iri(where.dataset)
    lines = [*series_node(where.base),
             _t(ds, _p(DCAT, "inSeries"), nt.iri(where.base + "dataset")),
             _t(ds, _p(DCAT, "version"), nt.text(release.id))]
    if config.release_date:
        lines.append(_t(ds, _p(DCT, "issued"), nt.typed(config.release_date, "date")))
    if release.previous is not None:
        previous = nt.iri(Place.of(where.base, release.previous).dataset)
        lines += [_t(ds, _p(DCAT, "prev"), previous),
                  _t(ds, _p(DCAT, "previousVersion"), previous)]
    if release.changes and release.previous is not None:
        fr_notes, en_notes = version_notes(release.previous, release.changes)
        lines += [_t(ds, _p(ADMS, "versionNotes"), nt.fr(fr_notes)),
                  _t(ds, _p(ADMS, "versionNotes"), nt.lang(en_notes, "en"))]
    return lines


def version_notes(previous: str, changes: dict) -> tuple[str, str]:
    """What changed since the previous release, in a sentence (fr, en), from the manifest's
    counts: DCAT's ``adms:versionNotes``."""
    counts = changes.get("resources", {})
    kinds = (("action", "actions", "actions"), ("structure", "structures", "structures"),
             ("body", "organismes", "bodies"))

    def figures(kind: str) -> str:
        n = counts.get(kind, {})
        return ", ".join(str(n.get(k, 0)) for k in ("added", "removed", "changed"))

    fr = "; ".join(f"{name} {figures(kind)}" for kind, name, _ in kinds)
    en = "; ".join(f"{name} {figures(kind)}" for kind, _, name in kinds)
    added, removed = changes.get("triples_added", 0), changes.get("triples_removed", 0)
    return (f"Changements depuis la publication {previous} (ajouts, retraits, modifications) : "
            f"{fr.replace('; ', ' ; ')} ; triplets ajoutés {added}, retirés {removed}.",
            f"Changes since release {previous} (added, removed, changed): {en}; triples added "
            f"{added}, removed {removed}.")


# A changeset's files (mapping/diff.py), as distributions of the release they lead to:
# file, media type, EU file type, titles and descriptions (fr, en) with {previous}.
CHANGES = (
    ("changes/added.nt.gz", "application/gzip", "GZIP",
     ("Triplets ajoutés depuis la publication {previous} (N-Triples gzip)",
      "Triples added since release {previous} (gzipped N-Triples)"),
     ("Les triplets de cette publication que la publication {previous} n'avait pas : N-Triples "
      "triés, compressés avec gzip, comme DBpedia et Wikidata publient leurs changements.",
      "The triples of this release that release {previous} did not have: sorted N-Triples, "
      "gzipped, as DBpedia and Wikidata publish their changesets.")),
    ("changes/removed.nt.gz", "application/gzip", "GZIP",
     ("Triplets retirés depuis la publication {previous} (N-Triples gzip)",
      "Triples removed since release {previous} (gzipped N-Triples)"),
     ("Les triplets de la publication {previous} que celle-ci n'a plus : N-Triples triés, "
      "compressés avec gzip. Ceux de {previous}, moins ceux-ci, plus les ajoutés, sont ceux de "
      "cette publication.",
      "The triples of release {previous} that this release no longer has: sorted N-Triples, "
      "gzipped. Release {previous}'s triples less these, plus the added ones, are this "
      "release's.")),
    ("changes/summary.ttl", "text/turtle", "RDF_TURTLE",
     ("Résumé des changements depuis la publication {previous} (Turtle)",
      "Summary of the changes since release {previous} (Turtle)"),
     ("Les actions, structures et organismes ajoutés, retirés ou modifiés depuis la publication "
      "{previous}, et les champs modifiés de chacun, dans le vocabulaire senacs (PROV, "
      "DCTerms, schema.org).",
      "The actions, structures and bodies added, removed or changed since release {previous}, "
      "and the fields of each that changed, in the senacs vocabulary (PROV, DCTerms, "
      "schema.org).")),
)


def _changes_distributions(where: Place, config: MetadataConfig, rights: str,
                           files: dict[str, dict], release: SeriesRelease) -> list[str]:
    """The changeset against the previous release, one distribution per file."""
    lines = []
    for name, media, filetype, titles, descriptions in CHANGES:
        meta = files.get(name)
        if meta is None or release.previous is None:
            continue
        lines += _distribution(where, config, rights, name, meta, media, filetype,
                               tuple(t.format(previous=release.previous) for t in titles),
                               tuple(d.format(previous=release.previous) for d in descriptions))
    return lines


def _coverage(where: Place, keywords: list[str], spatial: list[str],
              period: tuple[str, str] | None) -> list[str]:
    """What the data covers, read from the records: keywords, departments, years of start."""
    ds, a = nt.iri(where.dataset), nt.RDF_TYPE
    lines = [_t(ds, _p(DCAT, "keyword"), nt.fr(word))
             for word in ["centres sociaux", "espaces de vie sociale", "SENACS", "action sociale",
                          *keywords]]
    for place in spatial:
        lines += [_t(ds, _p(DCT, "spatial"), nt.iri(place)),
                  _t(nt.iri(place), a, _p(DCT, "Location"))]
    if period:
        when = nt.iri(where.dataset + "#period")
        lines += [_t(ds, _p(DCT, "temporal"), when), _t(when, a, _p(DCT, "PeriodOfTime")),
                  _t(when, _p(DCAT, "startDate"), nt.typed(period[0], "gYear")),
                  _t(when, _p(DCAT, "endDate"), nt.typed(period[1], "gYear"))]
    return lines


def _reference_source(where: Place, reference: dict | None) -> list[str]:
    """The official data places and bodies were resolved with (``data/reference/source.json``),
    as the dataset's ``dct:source``: its vintage and the package version it came in."""
    if not reference:
        return []
    ds, a = nt.iri(where.dataset), nt.RDF_TYPE
    vintage, version = str(reference["vintage"]), str(reference["version"])
    src = nt.iri(f"{where.dataset}#reference-{vintage}")
    year = nt.iri(f"{where.dataset}#reference-{vintage}-year")
    etalab = nt.iri(f"{where.dataset}#etalab")
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
        _t(src, _p(DCT, "publisher"), etalab),
        _t(etalab, a, _p(FOAF, "Agent")),
        _t(etalab, _p(FOAF, "name"), nt.text("Etalab")),
        _t(etalab, _p(DCT, "type"),
           nt.iri(ADMS_PUBLISHER_TYPE + "NationalAuthority")),
        *_concept(ADMS_PUBLISHER_TYPE + "NationalAuthority", "Autorité nationale",
                  "National authority"),
    ]


def _concept(iri: str, fr_label: str, en_label: str) -> list[str]:
    """A concept of a controlled vocabulary the catalog links to, with its labels."""
    return [_t(nt.iri(iri), nt.RDF_TYPE, _p(SKOS, "Concept")),
            _t(nt.iri(iri), _p(SKOS, "prefLabel"), nt.fr(fr_label)),
            _t(nt.iri(iri), _p(SKOS, "prefLabel"), nt.lang(en_label, "en"))]


def _recommended(where: Place, config: MetadataConfig, spatial: list[str]) -> list[str]:
    """What DCAT-AP 3 recommends beyond its mandatory properties (portals score it: the
    data.europa.eu Metadata Quality Assessment), where it is true and known: the catalog's date,
    licence, places and theme scheme; the data service's keywords, theme, publisher and contact;
    the licence's type. Not known, so not said: the publisher's type (who publishes is
    configured, what kind of body it is is not) and the places' bounding boxes and centroids
    (the reference data has no geometry)."""
    cat, service = nt.iri(where.catalog), nt.iri(where.service)
    lines = [_t(cat, _p(DCAT, "themeTaxonomy"), nt.iri(EU + "data-theme")),
             *(_t(cat, _p(DCT, "spatial"), nt.iri(place)) for place in spatial),
             _t(service, _p(DCT, "publisher"), nt.iri(where.base + "publisher")),
             _t(service, _p(DCAT, "theme"), nt.iri(EU + "data-theme/SOCI")),
             *(_t(service, _p(DCAT, "keyword"), nt.fr(word))
               for word in ("SPARQL", "centres sociaux", "espaces de vie sociale", "SENACS"))]
    if config.release_date:
        lines.append(_t(cat, _p(DCT, "issued"), nt.typed(config.release_date, "date")))
    if config.contact_email:
        lines.append(_t(service, _p(DCAT, "contactPoint"), nt.iri(where.base + "contact")))
    if config.license:
        licence = nt.iri(config.license)
        lines.append(_t(cat, _p(DCT, "license"), licence))
        for kind in LICENCE_TYPES.get(config.license, ()):
            lines += [_t(licence, _p(DCT, "type"), nt.iri(ADMS_LICENCE_TYPE + kind)),
                      *_concept(ADMS_LICENCE_TYPE + kind, *LICENCE_TYPE_LABELS[kind])]
    return lines


def _distribution(where: Place, config: MetadataConfig, rights: str, name: str, meta: dict,
                  media: str, filetype: str, titles: tuple[str, str],
                  descriptions: tuple[str, str], compress: str | None = None) -> list[str]:
    """One dump as a distribution: its URL, media type, size and sha256, so that a harvester
    can check what it downloads; with ``compress``, the media type of the compression
    (``dcat:compressFormat``), the size and checksum being those of the compressed file."""
    ds, a = nt.iri(where.dataset), nt.RDF_TYPE
    dist = _distribution_iri(where, name)
    url = nt.iri(where.dump(name))
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
    if compress:
        lines += [_t(dist, _p(DCAT, "compressFormat"), nt.iri(IANA + compress)),
                  _t(nt.iri(IANA + compress), a, _p(DCT, "MediaType"))]
    if config.license:
        lines.append(_t(dist, _p(DCT, "license"), nt.iri(config.license)))
    return lines


def void(base: str, counts: dict, example: str | None, release_id: str | None = None) -> str:
    """The VoID description: size, partitions by class and property, access points (N-Triples);
    with ``release_id``, of that release of a series, at the IRIs its catalog gives it."""
    v, dct = "http://rdfs.org/ns/void#", "http://purl.org/dc/terms/"
    where = Place.of(base, release_id)
    ds = nt.iri(where.dataset)
    integer = nt.integer
    lines = [
        _t(ds, nt.RDF_TYPE, nt.iri(v + "Dataset")),
        _t(ds, nt.iri(dct + "title"), nt.fr("Fiches actions des centres sociaux (SENACS)")),
        _t(ds, nt.iri(v + "triples"), integer(counts["triples"])),
        _t(ds, nt.iri(v + "entities"), integer(counts["entities"])),
        _t(ds, nt.iri(v + "distinctSubjects"), integer(counts["subjects"])),
        _t(ds, nt.iri(v + "classes"), integer(len(counts["classes"]))),
        _t(ds, nt.iri(v + "properties"), integer(len(counts["properties"]))),
        _t(ds, nt.iri(v + "sparqlEndpoint"), nt.iri(where.root + "sparql")),
        _t(ds, nt.iri(v + "uriSpace"), nt.text(base)),
        _t(ds, nt.iri(v + "feature"), nt.iri("http://www.w3.org/ns/formats/N-Triples")),
        _t(ds, nt.iri(v + "feature"), nt.iri("http://www.w3.org/ns/formats/Turtle")),
        _t(ds, nt.iri(v + "vocabulary"), nt.iri(base + "def#")),
    ]
    lines += [_t(ds, nt.iri(v + "vocabulary"), nt.iri(vocab)) for vocab in VOCABULARIES]
    lines += [_t(ds, nt.iri(v + "dataDump"), nt.iri(where.dump(name))) for name, *_ in DUMPS]
    if example:
        lines.append(_t(ds, nt.iri(v + "exampleResource"), nt.iri(example)))
    for n, (cls, count) in enumerate(sorted(counts["classes"].items())):
        part = nt.iri(f"{where.dataset}#class-{n}")
        lines += [_t(ds, nt.iri(v + "classPartition"), part), _t(part, nt.iri(v + "class"), cls),
                  _t(part, nt.iri(v + "entities"), integer(count))]
    for n, (prop, count) in enumerate(sorted(counts["properties"].items())):
        part = nt.iri(f"{where.dataset}#property-{n}")
        lines += [_t(ds, nt.iri(v + "propertyPartition"), part),
                  _t(part, nt.iri(v + "property"), prop),
                  _t(part, nt.iri(v + "triples"), integer(count))]
    return "".join(sorted(set(lines)))
