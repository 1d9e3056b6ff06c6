"""Dataset metadata: the DCAT-AP 3 catalog and VoID, in the release and at their URLs."""

from __future__ import annotations

import json
from pathlib import Path

import pyoxigraph as ox
import pyshacl
import pytest
import requests
from conftest import free_port, start_server, stop
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, VOID

ESSENTIALS = Path(__file__).parent / "shapes" / "dcat-ap-3-essentials.ttl"
B = "https://w3id.org/senacs-kg/"


@pytest.fixture(scope="module")
def catalog(release_dir) -> Graph:
    return Graph().parse(release_dir / "catalog.ttl")


def test_catalog_conforms_to_the_dcat_ap_3_essentials(catalog):
    conforms, _, text = pyshacl.validate(catalog, shacl_graph=Graph().parse(ESSENTIALS))
    assert conforms, text


def test_catalog_describes_every_dump_with_size_and_checksum(catalog, release_dir):
    manifest = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8"))
    dataset = URIRef(B + "dataset")
    assert (URIRef(B + "catalog"), DCAT.dataset, dataset) in catalog
    assert catalog.value(dataset, DCTERMS.identifier) == Literal(B + "dataset")
    urls = {str(catalog.value(d, DCAT.downloadURL)): d for d in catalog.objects(dataset,
                                                                                 DCAT.distribution)}
    for name in ("dataset.nt", "dataset.nt.gz", "dataset.ttl", "dataset.jsonld"):
        dist = urls[f"{B}dumps/{name}"]
        assert int(catalog.value(dist, DCAT.byteSize)) == manifest["files"][name]["bytes"]
        checksum = catalog.value(dist, URIRef("http://spdx.org/rdf/terms#checksum"))
        assert str(catalog.value(checksum, URIRef("http://spdx.org/rdf/terms#checksumValue"))) \
            == manifest["files"][name]["sha256"]
    service = catalog.value(URIRef(B + "catalog"), DCAT.service)
    assert catalog.value(service, DCAT.endpointURL) == URIRef(B + "sparql")
    assert {t.language for t in catalog.objects(dataset, DCTERMS.title)} == {"fr", "en"}
    assert catalog.value(dataset, DCTERMS.license) is None  # none claimed unless configured
    assert catalog.value(dataset, DCTERMS.rights) is not None


def test_void_counts_match_the_dump(release_dir):
    void = Graph().parse(release_dir / "void.ttl")
    dataset = URIRef(B + "dataset")
    lines = (release_dir / "dataset.nt").read_bytes().splitlines()
    assert int(void.value(dataset, VOID.triples)) == len(lines)
    assert void.value(dataset, VOID.sparqlEndpoint) == URIRef(B + "sparql")
    assert str(void.value(dataset, VOID.uriSpace)) == B
    partitions = {str(void.value(p, VOID["class"])): int(void.value(p, VOID.entities))
                  for p in void.objects(dataset, VOID.classPartition)}
    assert partitions[B + "def#Action"] == 25
    assert set(void.objects(dataset, VOID.dataDump)) >= {URIRef(B + "dumps/dataset.nt")}


@pytest.fixture(scope="module")
def site(release_dir, tmp_path_factory):
    port = free_port()
    proc = start_server(release_dir, tmp_path_factory.mktemp("cat") / "store", port)
    yield f"http://127.0.0.1:{port}"
    stop(proc)


@pytest.mark.parametrize("path", ["/catalog", "/.well-known/void"])
def test_metadata_urls_are_plain_turtle_by_default_and_negotiable(site, path):
    plain = requests.get(site + path, headers={"Accept-Encoding": "identity"}, timeout=10)
    assert plain.status_code == 200
    assert plain.headers["Content-Type"] == "text/turtle; charset=utf-8"
    assert "Content-Encoding" not in plain.headers
    turtle = {str(t) for t in ox.parse(plain.content, format=ox.RdfFormat.TURTLE)}
    for media, fmt in (("application/ld+json", ox.RdfFormat.JSON_LD),
                       ("application/rdf+xml", ox.RdfFormat.RDF_XML)):
        other = requests.get(site + path, headers={"Accept": media}, timeout=10)
        assert other.headers["Content-Type"] == media
        assert {str(t) for t in ox.parse(other.content, format=fmt)} == turtle


def test_ontology_at_its_namespace(site):
    turtle = requests.get(site + "/def", headers={"Accept": "text/turtle"}, timeout=10)
    assert turtle.status_code == 200
    triples = {str(t) for t in ox.parse(turtle.content, format=ox.RdfFormat.TURTLE)}
    assert f"<{B}def> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> " \
           "<http://www.w3.org/2002/07/owl#Ontology>" in triples
    page = requests.get(site + "/def", headers={"Accept": "text/html"}, timeout=10).text
    assert 'id="Action"' in page and "Structure" in page
    assert "resolvedPartner" in page
    jsonld = requests.get(site + "/def", headers={"Accept": "application/ld+json"}, timeout=10)
    assert jsonld.headers["Content-Type"] == "application/ld+json"
