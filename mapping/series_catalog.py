"""The series' DCAT catalog: every release's description gathered, the series around them.

Written at each publication (``mapping/series.py``: ``write_series``, which a retirement calls
too) *before* ``series.json`` is replaced, under a name ``series.json`` then points to
(``"catalog": "catalogs/catalog-2025-1a2b3c4d5e6f.ttl"``): switching the pointer is the one
atomic step that publishes the release, the series' state and its catalog together. The name
holds the latest release's id and the start of the file's own sha256: another catalog is
another file (a server never reads one half written, an ETag never names two contents), and
the previous one is kept until the next switch, for a server that has not reloaded yet.

What it says (DCAT 3, checked against the DCAT-AP 3 shapes):

- ``{base}catalog``, the ``dcat:Catalog``: its publisher, its services (``/sparql``, which
  answers the latest release, and each release's own ``/release/{id}/sparql``), the series
  and every release's dataset;
- ``{base}dataset``, the ``dcat:DatasetSeries``: its titles, description, publisher, rights, the
  coverage of all its releases, ``dcat:first`` and ``dcat:last``, ``dcat:hasVersion`` each
  release and ``dcat:hasCurrentVersion`` the latest (its plain IRIs answer the latest
  release: the latest is its current snapshot), ``dct:issued`` the first release's date and
  ``dct:modified`` the latest's;
- each release, ``{base}release/{id}/dataset``, as its own ``catalog.ttl`` describes it (its
  build wrote it: ``mapping/metadata.py``), less its own ``dcat:Catalog``. A retired release
  keeps its description and its changeset's distributions only: its other files, its endpoint
  and its pages are gone. A release whose ``catalog.ttl`` does not describe it as a release of
  the series (removed, or built before series had catalogs) is described from its manifest:
  the same terms, less what only the records say (keywords, places, years, reference data).

The series' publisher, contact, licence and rights are the latest release's (its catalog says
them), so that a retirement, which has no build options, rewrites the same catalog.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import pyoxigraph as ox

from mapping import metadata, release
from mapping import ntriples as nt
from mapping.metadata import DCAT, DCT, FOAF, RDFS, VCARD, MetadataConfig, Place

CATALOGS_DIR = "catalogs"
NAME = re.compile(r"catalog-[0-9]{4}(?:-[0-9]+)?-[0-9a-f]{12}\.ttl")


class Listed(Protocol):
    """A release as series.json lists it (``mapping.series.Entry``)."""

    id: str
    date: str | None
    previous: str | None
    retired: str | None


def write(folder: Path, entries: Sequence[Listed], base: str) -> str:
    """The series catalog written into ``folder/catalogs/``, flushed to disk; its name
    relative to ``folder``, for series.json to point to."""
    target = folder / CATALOGS_DIR
    target.mkdir(exist_ok=True)
    temporary = target / f".catalog.{os.getpid()}.tmp"
    release.write_turtle(text(folder, entries, base), temporary, base)
    digest = hashlib.sha256(temporary.read_bytes()).hexdigest()
    name = f"catalog-{entries[-1].id}-{digest[:12]}.ttl"
    release.replace_file(temporary, target / name)
    return f"{CATALOGS_DIR}/{name}"


def remove_old(folder: Path, keep: Iterable[str | None]) -> None:
    """The catalogs series.json no longer needs (all but ``keep``, names relative to
    ``folder``), and temporary files a dead writer left; called under the series' lock."""
    kept = {name for name in keep if name}
    for path in sorted((folder / CATALOGS_DIR).glob("*")):
        name = f"{CATALOGS_DIR}/{path.name}"
        if path.is_file() and name not in kept and (NAME.fullmatch(path.name)
                                                    or path.name.endswith(".tmp")):
            path.unlink()


def text(folder: Path, entries: Sequence[Listed], base: str) -> str:
    """The series catalog as sorted N-Triples (same series, same bytes)."""
    described = {entry.id: _kept(_description(folder, entry, base), entry, base)
                 for entry in entries}
    config = _config_of(described[entries[-1].id], Place.of(base, entries[-1].id).dataset)
    lines = {f"{t} .\n" for t in _shared_as_latest(described, config, base)}
    lines.update(_series(base, entries, config, [t for ts in described.values() for t in ts]))
    return "".join(sorted(_reachable(lines, nt.iri(base + "catalog"))))


# -- each release's description ---------------------------------------------------------------


def _description(folder: Path, entry: Listed, base: str) -> list[ox.Triple]:
    """What the release's own catalog says; made from its manifest when that catalog is gone
    or says nothing of the release (a release built before series had catalogs)."""
    dataset = ox.NamedNode(Place.of(base, entry.id).dataset)
    try:
        triples = list(ox.parse(path=str(folder / entry.id / release.CATALOG),
                                format=ox.RdfFormat.TURTLE))
    except (OSError, SyntaxError, ValueError):
        triples = []
    if any(t.subject == dataset for t in triples):
        return triples
    return _from_manifest(folder, entry, base)


def _from_manifest(folder: Path, entry: Listed, base: str) -> list[ox.Triple]:
    """The release described as its build would have, from what its manifest lists."""
    try:
        manifest = release.read_manifest(folder / entry.id)
    except release.NotARelease:
        manifest = {}
    files = manifest.get("files") if isinstance(manifest.get("files"), dict) else {}
    files = {name: meta for name, meta in files.items()
             if isinstance(meta, dict) and {"sha256", "bytes"} <= meta.keys()}
    changes = manifest.get("changes") if isinstance(manifest.get("changes"), dict) else None
    config = MetadataConfig(release_date=entry.date)
    lines = metadata.catalog(base, files, config, [], [], None, None,
                             metadata.SeriesRelease(entry.id, entry.previous, changes))
    return list(ox.parse(lines.encode("utf-8"), format=ox.RdfFormat.N_TRIPLES))


def _kept(triples: list[ox.Triple], entry: Listed, base: str) -> list[ox.Triple]:
    """A release's triples the series catalog keeps: not those of its own catalog node or of
    the series' nodes (the series catalog says those), and for a retired release none of its
    landing page or of its distributions but its changeset's."""
    where = Place.of(base, entry.id)
    dropped = {ox.NamedNode(iri) for iri in (where.catalog, base + "catalog", base + "dataset",
                                             base + "sparql#service")}
    kept = [t for t in triples if t.subject not in dropped]
    return _as_retired(kept, where) if entry.retired else kept


def _as_retired(triples: list[ox.Triple], where: Place) -> list[ox.Triple]:
    """A retired release's description: its landing page and its distributions are gone (they
    answer 410), but for its changeset's, which a retirement keeps."""
    dataset, changes = ox.NamedNode(where.dataset), where.dump("changes/")
    urls = {t.subject: t.object.value for t in triples
            if t.predicate == _n(DCAT, "downloadURL")}

    def gone(t: ox.Triple) -> bool:
        if t.subject != dataset:
            return False
        if t.predicate == _n(DCAT, "landingPage"):
            return True
        return t.predicate == _n(DCAT, "distribution") \
            and not urls.get(t.object, "").startswith(changes)

    return [t for t in triples if not gone(t)]


def _n(namespace: str, name: str) -> ox.NamedNode:
    return ox.NamedNode(namespace + name)


def _shared_as_latest(described: dict[str, list[ox.Triple]], config: MetadataConfig,
                      base: str) -> list[ox.Triple]:
    """The releases' triples, less what they say of the publisher and the contact: the series
    catalog says those once, as the latest release does (an older release's link to a contact
    the latest no longer gives goes too)."""
    shared = {ox.NamedNode(base + "publisher"), ox.NamedNode(base + "contact")}
    contact = ox.NamedNode(base + "contact")
    return [t for triples in described.values() for t in triples
            if t.subject not in shared and (config.contact_email or t.object != contact)]


def _config_of(triples: list[ox.Triple], dataset: str) -> MetadataConfig:
    """Who publishes, whom to contact, under which licence and rights: as the latest release's
    catalog says (the defaults where it says nothing)."""
    about: dict[tuple[object, ox.NamedNode], object] = {}
    for t in triples:
        about.setdefault((t.subject, t.predicate), t.object)
    ds = ox.NamedNode(dataset)

    def value(subject, namespace: str, name: str):
        return about.get((subject, _n(namespace, name))) if subject is not None else None

    config = MetadataConfig()
    publisher = value(value(ds, DCT, "publisher"), FOAF, "name")
    email = value(value(ds, DCAT, "contactPoint"), VCARD, "hasEmail")
    licence, rights = value(ds, DCT, "license"), value(value(ds, DCT, "rights"), RDFS, "label")
    return replace(config,
                   publisher_name=publisher.value if publisher else config.publisher_name,
                   contact_email=email.value.removeprefix("mailto:") if email else None,
                   license=licence.value if licence else None,
                   rights=rights.value if rights else config.rights)


# -- the series around them ---------------------------------------------------------------------


def _series(base: str, entries: Sequence[Listed], config: MetadataConfig,
            described: list[ox.Triple]) -> set[str]:
    """The catalog, its plain endpoint and the series, with what covers all the releases."""
    releases = [Place.of(base, e.id) for e in entries]
    keywords, spatial, period = _coverage(described, releases)
    lines = set(metadata.catalog(base, {}, replace(config, release_date=None), keywords, spatial,
                                 period).splitlines(keepends=True))
    lines.update(metadata.series_node(base))
    cat, series = nt.iri(base + "catalog"), nt.iri(base + "dataset")

    def add(s: str, namespace: str, name: str, o: str) -> None:
        lines.add(f"{s} {nt.iri(namespace + name)} {o} .\n")

    for entry, where in zip(entries, releases):
        add(cat, DCAT, "dataset", nt.iri(where.dataset))
        add(series, DCAT, "hasVersion", nt.iri(where.dataset))
        if not entry.retired:
            add(cat, DCAT, "service", nt.iri(where.service))
    add(series, DCAT, "first", nt.iri(releases[0].dataset))
    add(series, DCAT, "last", nt.iri(releases[-1].dataset))
    add(series, DCAT, "hasCurrentVersion", nt.iri(releases[-1].dataset))
    dates = sorted(e.date for e in entries if e.date)
    if dates:
        for subject in (cat, series):
            add(subject, DCT, "issued", nt.typed(dates[0], "date"))
            add(subject, DCT, "modified", nt.typed(dates[-1], "date"))
    return lines


def _coverage(described: list[ox.Triple], releases: list[Place]
              ) -> tuple[list[str], list[str], tuple[str, str] | None]:
    """The releases' keywords, places and years together: the series covers them all."""
    datasets = {ox.NamedNode(where.dataset) for where in releases}
    keywords, spatial, periods = set(), set(), set()
    for t in described:
        if t.subject in datasets and t.predicate == _n(DCAT, "keyword"):
            keywords.add(t.object.value)
        elif t.subject in datasets and t.predicate == _n(DCT, "spatial"):
            spatial.add(t.object.value)
        elif t.subject in datasets and t.predicate == _n(DCT, "temporal"):
            periods.add(t.object)
    starts = [t.object.value for t in described
              if t.subject in periods and t.predicate == _n(DCAT, "startDate")]
    ends = [t.object.value for t in described
            if t.subject in periods and t.predicate == _n(DCAT, "endDate")]
    period = (min(starts), max(ends)) if starts and ends else None
    return sorted(keywords), sorted(spatial), period


def _reachable(lines: Iterable[str], root: str) -> set[str]:
    """The lines about what the catalog reaches, from ``root`` through IRI objects: a
    distribution no dataset lists any more, or a release's own catalog node, goes with
    everything only it linked to."""
    by_subject: dict[str, list[str]] = {}
    for line in lines:
        by_subject.setdefault(line.split(" ", 1)[0], []).append(line)
    seen, todo, kept = {root}, [root], set()
    while todo:
        for line in by_subject.get(todo.pop(), []):
            kept.add(line)
            term = line.split(" ", 2)[2][:-3]  # the object: drop " .\n"
            if term.startswith("<") and term not in seen:
                seen.add(term)
                todo.append(term)
    return kept
