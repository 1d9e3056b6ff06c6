"""The catalog's recommended properties: what portals score beyond DCAT-AP's mandatory ones.

data.europa.eu's Metadata Quality Assessment counts DCAT-AP's *recommended* properties too.
The pairs below are those of SEMIC's DCAT-AP 3.0.1 recommended shapes
(``releases/3.0.1/html/shacl/shapes_recommended.ttl``: each a ``sh:minCount 1`` at
``sh:Warning``), listed here as (class, property); every instance of each class must have the
property, but for the gaps the README names (not known, so not said).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SEED, build_release
from csvw import TableGroup
from frictionless import validate
from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF

ADMS = Namespace("http://www.w3.org/ns/adms#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
B = "https://w3id.org/senacs-kg/"
ETALAB = "https://www.etalab.gouv.fr/licence-ouverte-open-licence"

RECOMMENDED = {
    FOAF.Agent: (DCTERMS.type,),
    DCAT.Catalog: (DCTERMS.language, DCTERMS.issued, DCTERMS.license, DCTERMS.spatial,
                   DCTERMS.modified, DCAT.themeTaxonomy, FOAF.homepage, DCAT.dataset,
                   DCAT.service),
    DCAT.DataService: (DCAT.servesDataset, DCAT.endpointDescription, DCAT.contactPoint,
                       DCTERMS.publisher, DCAT.theme, DCTERMS.conformsTo, DCAT.keyword),
    DCAT.Dataset: (DCAT.contactPoint, DCAT.distribution, DCAT.keyword, DCTERMS.publisher,
                   DCTERMS.spatial, DCTERMS.temporal, DCAT.theme),
    DCAT.Distribution: (DCTERMS.description, DCATAP.availability, DCTERMS.format,
                        DCTERMS.license),
    DCTERMS.LicenseDocument: (DCTERMS.type,),
    DCTERMS.Location: (DCAT.bbox, DCAT.centroid),
    DCTERMS.PeriodOfTime: (DCAT.startDate, DCAT.endDate),
}
# Not known, so not said (README, "Tables" section): the configured publisher's kind of body;
# the places' geometry (the reference data has none); the contact and download of the
# official reference data (its package, version and checksum are recorded, not those).
GAPS = {(URIRef(B + "publisher"), DCTERMS.type),
        (URIRef(B + "dataset#reference-2026"), DCAT.contactPoint),
        (URIRef(B + "dataset#reference-2026"), DCAT.distribution)}
GAP_PROPERTIES = {(DCTERMS.Location, DCAT.bbox), (DCTERMS.Location, DCAT.centroid)}


@pytest.fixture(scope="module")
def configured_release(tmp_path_factory) -> Path:
    """A build given what a publisher configures."""
    return build_release(SEED, tmp_path_factory.mktemp("configured") / "release",
                         "--publisher", "Fédération des centres sociaux",
                         "--contact-email", "open-data@example.org", "--license", ETALAB,
                         "--rights", "Licence Ouverte 2.0", "--release-date", "2026-11-24")


@pytest.fixture(scope="module")
def configured(configured_release) -> Graph:
    """The catalog of that build."""
    return Graph().parse(configured_release / "catalog.ttl")


def test_the_tables_descriptors_give_the_configured_licence(configured_release):
    tables = configured_release / "tables"
    package = json.loads((tables / "datapackage.json").read_text(encoding="utf-8"))
    assert package["licenses"] == [{"path": ETALAB}]
    assert validate(tables / "datapackage.json").valid
    csvw = json.loads((tables / "csv-metadata.json").read_text(encoding="utf-8"))
    assert csvw["dc:license"] == {"@id": ETALAB}
    assert csvw["dc:rights"] == "Licence Ouverte 2.0"
    assert TableGroup.from_file(tables / "csv-metadata.json").common_props["dc:license"] == {
        "@id": ETALAB}  # read by the csvw library as a link


def test_without_a_licence_the_tables_claim_none(release_dir):
    tables = release_dir / "tables"
    assert "licenses" not in json.loads((tables / "datapackage.json").read_text(encoding="utf-8"))
    csvw = json.loads((tables / "csv-metadata.json").read_text(encoding="utf-8"))
    assert "dc:license" not in csvw
    assert "Aucune licence n'est accordée" in csvw["dc:rights"]


def missing(catalog: Graph) -> set[tuple[URIRef, URIRef]]:
    out = set()
    for cls, properties in RECOMMENDED.items():
        for node in set(catalog.subjects(RDF.type, cls)):
            out |= {(node, p) for p in properties
                    if (cls, p) not in GAP_PROPERTIES and catalog.value(node, p) is None}
    return out


def test_a_configured_build_has_every_recommended_property_that_is_known(configured):
    assert missing(configured) == GAPS
    assert len(set(configured.subjects(RDF.type, DCAT.Distribution))) == 15


def test_the_gaps_are_only_what_cannot_be_known(configured):
    """Locations are the departments and France; nothing else lacks geometry."""
    locations = set(configured.subjects(RDF.type, DCTERMS.Location))
    assert locations == {URIRef(B + "place/departement/31"),
                         URIRef("http://publications.europa.eu/resource/authority/country/FRA")}


def test_the_licence_says_its_type_and_an_unknown_licence_says_none(configured, tmp_path):
    licence = URIRef(ETALAB)
    assert configured.value(licence, DCTERMS.type) == \
        URIRef("http://purl.org/adms/licencetype/Attribution")
    other = build_release(SEED, tmp_path / "release", "--license", "https://example.org/licence")
    catalog = Graph().parse(other / "catalog.ttl")
    assert catalog.value(URIRef("https://example.org/licence"), DCTERMS.type) is None
    assert catalog.value(URIRef(B + "catalog"), DCTERMS.license) == \
        URIRef("https://example.org/licence")


def test_every_distribution_says_what_it_holds_and_how_long_it_stays(configured):
    for dist in configured.subjects(RDF.type, DCAT.Distribution):
        assert {d.language for d in configured.objects(dist, DCTERMS.description)} == {"fr", "en"}
        assert configured.value(dist, DCATAP.availability) == URIRef(
            "http://publications.europa.eu/resource/authority/planned-availability/AVAILABLE")


def test_without_configuration_nothing_is_claimed(release_dir):
    """No date, licence or contact comes from nowhere: the defaults stay silent."""
    catalog = Graph().parse(release_dir / "catalog.ttl")
    root = URIRef(B + "catalog")
    assert catalog.value(root, DCTERMS.license) is None
    assert catalog.value(URIRef(B + "sparql#service"), DCAT.contactPoint) is None
    assert catalog.value(root, DCAT.themeTaxonomy) == URIRef(
        "http://publications.europa.eu/resource/authority/data-theme")
