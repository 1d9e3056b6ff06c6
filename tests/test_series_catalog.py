"""The DCAT catalog of a release series (issue #16, "Catalog").

Three generated campaigns (tests/campaigns.py) published with ``senacs-kg build --series``:
each release's own catalog places it in the series at IRIs that stay for ever, the series
catalog (the file series.json names) describes the series and every release, both conform to
the official DCAT-AP 3 shapes, and ``serve --series`` answers the series catalog at
``/catalog``, whose every download URL gives the bytes its checksum says.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, VOID, XSD, Namespace
from serve_series_helper import series_server
from test_catalog import _dcat_ap_report, dcat_ap_shapes  # noqa: F401 (SEMIC's shapes, a fixture)

from endpoint import series as served
from mapping import release, series
from mapping.vocab import DEFAULT_BASE as B

ADMS = Namespace("http://www.w3.org/ns/adms#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
DCAT3 = Namespace(str(DCAT))  # rdflib's DCAT lacks DCAT 3's terms: same namespace, any name
IDS = ("2024", "2025", "2026")
CHANGES = ("changes/added.nt.gz", "changes/removed.nt.gz", "changes/summary.ttl")
SERIES = URIRef(B + "dataset")


def dataset(release_id: str) -> URIRef:
    return URIRef(f"{B}release/{release_id}/dataset")


@pytest.fixture(scope="module")
def published(published_series) -> dict:
    """The series after each publication: its folder, and the series catalog after two
    releases (kept aside before the third was published)."""
    return {"folder": published_series.folder,
            "after_two": Graph().parse(published_series.catalog_after_two)}


def _named(folder: Path) -> str:
    return json.loads((folder / "series.json").read_text(encoding="utf-8"))["catalog"]


@pytest.fixture(scope="module")
def folder(published) -> Path:
    return published["folder"]


@pytest.fixture(scope="module")
def own(folder) -> dict[str, Graph]:
    """Each release's own catalog.ttl."""
    return {r: Graph().parse(folder / r / "catalog.ttl") for r in IDS}


@pytest.fixture(scope="module")
def whole(folder) -> Graph:
    """The series catalog series.json names."""
    return Graph().parse(folder / _named(folder))


def test_a_release_describes_itself_at_iris_that_stay(own, folder):
    graph, manifest = own["2025"], release.read_manifest(folder / "2025")
    ds, root = dataset("2025"), f"{B}release/2025/"
    assert (URIRef(root + "catalog"), DCAT.dataset, ds) in graph
    assert (ds, RDF.type, DCAT.Dataset) in graph
    assert graph.value(ds, DCAT3.inSeries) == SERIES
    assert (SERIES, RDF.type, DCAT3.DatasetSeries) in graph
    assert graph.value(ds, DCAT3.version) == Literal("2025")
    assert graph.value(ds, DCTERMS.issued) == Literal("2025-06-01", datatype=XSD.date)
    assert graph.value(ds, DCAT3.previousVersion) == dataset("2024")
    assert graph.value(ds, DCAT3.prev) == dataset("2024")
    assert graph.value(ds, DCAT.landingPage) == URIRef(root)
    assert {str(t) for t in graph.objects(ds, DCTERMS.title)} == {
        "Fiches actions des centres sociaux (SENACS), publication 2025",
        "Action records of French social centres (SENACS), release 2025"}
    service = graph.value(URIRef(root + "catalog"), DCAT.service)
    assert graph.value(service, DCAT.endpointURL) == URIRef(root + "sparql")
    urls = {str(graph.value(d, DCAT.downloadURL)): d for d in graph.objects(ds, DCAT.distribution)}
    assert urls and all(url.startswith(root + "dumps/") for url in urls)
    assert set(CHANGES) | {"dataset.nt.gz", "tables/actions.csv"} <= {
        url[len(root + "dumps/"):] for url in urls}
    for name in CHANGES:
        dist = urls[root + "dumps/" + name]
        assert int(graph.value(dist, DCAT.byteSize)) == manifest["files"][name]["bytes"]
        checksum = graph.value(dist, SPDX.checksum)
        assert str(graph.value(checksum, SPDX.checksumValue)) == manifest["files"][name]["sha256"]
        assert "2024" in str(graph.value(dist, DCTERMS.title))
    assert not [t for t in graph if f"{B}dumps/" in " ".join(map(str, t))]  # no plain URL


def test_the_first_release_has_no_previous_one_and_no_changeset(own):
    graph, ds = own["2024"], dataset("2024")
    assert graph.value(ds, DCAT3.inSeries) == SERIES
    assert graph.value(ds, DCAT3.previousVersion) is None and graph.value(ds, DCAT3.prev) is None
    assert graph.value(ds, ADMS.versionNotes) is None
    assert not [d for d in graph.objects(ds, DCAT.distribution) if "changes" in str(d)]


def test_version_notes_say_what_the_manifest_counts(own, folder):
    changes = release.read_manifest(folder / "2026")["changes"]
    actions = changes["resources"]["action"]
    notes = {n.language: str(n) for n in own["2026"].objects(dataset("2026"), ADMS.versionNotes)}
    assert notes["en"].startswith(f"Changes since release 2025 (added, removed, changed): "
                                  f"actions {actions['added']}, {actions['removed']}, "
                                  f"{actions['changed']}; ")
    assert notes["en"].endswith(f"triples added {changes['triples_added']}, removed "
                                f"{changes['triples_removed']}.")
    assert notes["fr"].startswith("Changements depuis la publication 2025")


def test_void_names_the_release_and_its_own_endpoint(folder):
    void = Graph().parse(folder / "2025" / "void.ttl")
    ds = dataset("2025")
    assert void.value(ds, VOID.sparqlEndpoint) == URIRef(f"{B}release/2025/sparql")
    assert URIRef(f"{B}release/2025/dumps/dataset.nt.gz") in set(void.objects(ds, VOID.dataDump))
    assert str(void.value(ds, VOID.uriSpace)) == B  # the resources keep their plain IRIs
    assert void.value(SERIES, VOID.triples) is None


def test_the_series_catalog_lists_the_series_and_every_release(whole, folder):
    assert re.fullmatch(r"catalogs/catalog-2026-[0-9a-f]{12}\.ttl", _named(folder))
    catalog = URIRef(B + "catalog")
    assert set(whole.objects(catalog, DCAT.dataset)) == {SERIES, *map(dataset, IDS)}
    assert set(whole.objects(catalog, DCAT.service)) == {
        URIRef(B + "sparql#service"), *(URIRef(f"{B}release/{r}/sparql#service") for r in IDS)}
    assert whole.value(SERIES, DCAT3.first) == dataset("2024")
    assert whole.value(SERIES, DCAT3.last) == dataset("2026")
    assert whole.value(SERIES, DCAT3.hasCurrentVersion) == dataset("2026")
    assert set(whole.objects(SERIES, DCAT3.hasVersion)) == set(map(dataset, IDS))
    assert set(whole.objects(SERIES, RDF.type)) == {DCAT3.DatasetSeries, DCAT.Dataset}
    for subject in (SERIES, catalog):
        assert whole.value(subject, DCTERMS.issued) == Literal("2024-06-01", datatype=XSD.date)
        assert whole.value(subject, DCTERMS.modified) == Literal("2026-06-01", datatype=XSD.date)
    assert whole.value(whole.value(SERIES, DCAT.contactPoint),
                       URIRef("http://www.w3.org/2006/vcard/ns#hasEmail")) \
        == URIRef("mailto:open-data@example.org")  # the latest release's contact
    assert whole.value(URIRef(B + "sparql#service"), DCAT.servesDataset) == SERIES


def test_each_release_is_described_in_the_series_catalog_as_its_own_catalog_does(whole, own):
    for release_id, graph in own.items():
        ds = dataset(release_id)
        assert set(whole.predicate_objects(ds)) == set(graph.predicate_objects(ds))
        for dist in graph.objects(ds, DCAT.distribution):
            assert set(whole.predicate_objects(dist)) == set(graph.predicate_objects(dist))
    # a release's own catalog node is not in the series catalog
    assert not list(whole.triples((URIRef(f"{B}release/2025/catalog"), None, None)))


def test_has_current_version_moves_on_with_the_next_publication(published, folder):
    before = published["after_two"]
    assert before.value(SERIES, DCAT3.hasCurrentVersion) == dataset("2025")
    assert before.value(SERIES, DCAT3.last) == dataset("2025")
    assert (None, None, dataset("2026")) not in before
    # the catalog series.json named before the last publication is kept, older ones go
    kept = sorted(p.name for p in (folder / "catalogs").iterdir())
    assert len(kept) == 2 and Path(_named(folder)).name in kept
    assert [name for name in kept if name.startswith("catalog-2025-")]


def test_the_catalogs_conform_to_the_official_dcat_ap_3_shapes(whole, own,
                                                               dcat_ap_shapes):  # noqa: F811
    for graph in (whole, own["2024"], own["2025"]):
        report = _dcat_ap_report(graph, dcat_ap_shapes)
        assert report.conforms, report.summary
    # the DatasetSeries shape applies to the series: without its description it fails
    broken = Graph()
    for triple in whole:
        broken.add(triple)
    broken.remove((SERIES, DCTERMS.description, None))
    broken.remove((SERIES, RDF.type, DCAT.Dataset))  # left to the DatasetSeries shape alone
    failing = {(r.focus, r.path, r.shape) for r in _dcat_ap_report(broken, dcat_ap_shapes).results}
    assert {(focus, path) for focus, path, _ in failing} >= {
        (f"<{SERIES}>", f"<{DCTERMS.description}>")}
    assert any("DatasetSeriesShape" in shape for _, _, shape in failing)


def test_a_retired_release_keeps_its_description_and_its_changeset_only(
        folder, tmp_path, dcat_ap_shapes):  # noqa: F811 (the fixture imported above)
    copy = tmp_path / "series"
    shutil.copytree(folder, copy)
    (copy / "2024" / "catalog.ttl").unlink()  # described from its manifest instead
    entries = [replace(e, retired="2027-01-10") if e.id in ("2024", "2025") else e
               for e in series.read_series(copy)]
    series.write_series(copy, entries)
    graph = Graph().parse(copy / _named(copy))
    retired = dataset("2025")
    urls = {str(graph.value(d, DCAT.downloadURL)) for d in graph.objects(retired, DCAT.distribution)}
    assert urls == {f"{B}release/2025/dumps/{name}" for name in CHANGES}
    assert graph.value(retired, DCAT3.version) == Literal("2025")
    assert graph.value(retired, DCAT.landingPage) is None
    assert URIRef(f"{B}release/2025/sparql#service") not in set(
        graph.objects(URIRef(B + "catalog"), DCAT.service))
    assert not list(graph.triples((URIRef(f"{B}release/2025/sparql#service"), None, None)))
    first = dataset("2024")
    assert graph.value(first, DCAT3.inSeries) == SERIES
    assert graph.value(first, DCTERMS.issued) == Literal("2024-06-01", datatype=XSD.date)
    assert graph.value(first, DCAT.distribution) is None  # the first release has no changeset
    assert len(list(graph.objects(dataset("2026"), DCAT.distribution))) > 3  # untouched
    report = _dcat_ap_report(graph, dcat_ap_shapes)
    assert report.conforms, report.summary


def test_the_series_catalog_is_the_same_bytes_for_the_same_series(folder, tmp_path):
    copy = tmp_path / "series"
    shutil.copytree(folder, copy)
    named = _named(copy)
    series.write_series(copy, series.read_series(copy))
    assert _named(copy) == named
    assert (copy / named).read_bytes() == (folder / named).read_bytes()


def test_series_json_naming_another_file_is_refused_by_the_server(folder, tmp_path):
    copy = tmp_path / "series"
    shutil.copytree(folder, copy)
    data = json.loads((copy / "series.json").read_text(encoding="utf-8"))
    for bad in ("../2025/catalog.ttl", "catalogs/../../x.ttl", "/etc/passwd", 3):
        (copy / "series.json").write_text(json.dumps({**data, "catalog": bad}), encoding="utf-8")
        with pytest.raises(served.SeriesError, match='"catalog" must name a file'):
            served.read_series(copy)


def test_the_served_catalog_is_the_series_and_every_download_is_what_it_says(folder, tmp_path):
    copy = tmp_path / "series"
    shutil.copytree(folder, copy)
    with series_server(copy, tmp_path / "store", SERIES_CHECK_SECONDS=0.2) as (root, _):
        plain = requests.get(root + "/catalog", timeout=30)
        assert plain.status_code == 200 and plain.headers["Content-Type"].startswith("text/turtle")
        assert plain.content == (copy / _named(copy)).read_bytes()
        pinned = requests.get(root + "/release/2025/catalog", timeout=30)
        assert pinned.content == (copy / "2025" / "catalog.ttl").read_bytes()
        jsonld = requests.get(root + "/catalog", headers={"Accept": "application/ld+json"},
                              timeout=30)
        graph = Graph().parse(data=plain.text, format="turtle")
        assert set(Graph().parse(data=jsonld.text, format="json-ld")) == set(graph)
        again = requests.get(root + "/catalog", headers={"If-None-Match": plain.headers["ETag"]},
                             timeout=30)
        assert again.status_code == 304
        distributions = set(graph.subjects(RDF.type, DCAT.Distribution))
        assert len(distributions) == 3 * 15 + 2 * 3
        for dist in distributions:
            url = str(graph.value(dist, DCAT.downloadURL))
            assert url.startswith(B + "release/")
            got = requests.get(root + "/" + url[len(B):], timeout=30)
            assert got.status_code == 200, url
            checksum = str(graph.value(graph.value(dist, SPDX.checksum), SPDX.checksumValue))
            assert hashlib.sha256(got.content).hexdigest() == checksum, url
            assert len(got.content) == int(graph.value(dist, DCAT.byteSize)), url
        # the series changes while its latest release stays (a retirement): /catalog follows
        entries = [replace(e, retired="2027-01-10") if e.id == "2025" else e
                   for e in series.read_series(copy)]
        series.write_series(copy, entries)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = requests.get(root + "/catalog", timeout=30)
            if now.content != plain.content:
                break
            time.sleep(0.2)
        assert now.content == (copy / _named(copy)).read_bytes()
        assert now.headers["ETag"] != plain.headers["ETag"]
