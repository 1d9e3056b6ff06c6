"""Places and public bodies as triples: what the reference data says of what a record names.

A record names a structure and its department and ticks partner categories; the
reference data (``mapping.reference``) says where the structure is and which bodies
the categories mean there. This module writes those facts: communes, departments,
regions and EPCI as resources of our base (``place/commune/31555``,
``place/departement/31``, ``place/region/76``, ``organisation/epci-243100518``) with
their official codes, the structure's placement with its method and evidence (PROV),
and the bodies a category resolves to. Each record's triples describe every place and
body it links to, so that a batch of records validates on its own; an EPCI's full
member list is written once per build (``closing_triples``).
"""

from __future__ import annotations

from mapping import ntriples as nt
from mapping import vocab
from mapping.places import Unplaced
from mapping.reference import Commune, Department, Reference
from mapping.vocab import IGEO, PROV, RDF, WD, Iris, slug

Triple = tuple[str, str, str]
RDF_TYPE = nt.iri(RDF.type)

# Partner categories that name one body of the structure's department: (kind, name pattern)
DEPARTMENT_BODIES = {
    "Caf": ("caf", "Caisse d'allocations familiales {of}"),
    "Conseil départemental": ("departement", "Département {of}"),
    "Département": ("departement", "Département {of}"),
    "Préfecture": ("prefecture", "Préfecture {of}"),
    "Éducation Nationale": ("dsden", "Direction des services départementaux de l'Éducation "
                                     "nationale {of}"),
}
COMMUNE_CATEGORY = "Commune"
EPCI_CATEGORY = "Regroupement de communes"


class Territory:
    """Triples of places and bodies for one build (its reference data, its base)."""

    def __init__(self, iris: Iris, reference: Reference, terms) -> None:
        self.iris, self.reference, self.t = iris, reference, terms
        d = iris.DEF
        self.region_p, self.epci_p = nt.iri(d.region), nt.iri(d.epci)
        self.member, self.epciKind = nt.iri(d.memberCommune), nt.iri(d.epciKind)
        self.placement_p, self.Placement = nt.iri(d.placement), nt.iri(d.Placement)
        self.method, self.evidence = nt.iri(d.placementMethod), nt.iri(d.evidence)
        self.Intercommunalite, self.Region = nt.iri(d.Intercommunalite), nt.iri(IGEO.Region)
        self.source = nt.iri(vocab.DCTERMS.source)
        self.ProvEntity = nt.iri(PROV.Entity)
        vintage = reference.source
        self.cog = nt.text(f"{vintage.get('package', '')} {vintage.get('version', '')} "
                           f"(Code officiel géographique {vintage.get('vintage', '')})")
        self._epcis_used: set[str] = set()
        self._departments = {d.code: d for d in reference.departments.values()}

    # -- places --------------------------------------------------------------------------

    def department(self, written: str, dept: Department | None, out: list[Triple]) -> str:
        """The department a record names: the COG's, or one named as written (unknown)."""
        t = self.t
        if dept is None:
            place = nt.iri(self.iris.department(slug(written)))
            out += [(place, RDF_TYPE, t.Departement), (place, t.nom, nt.fr(written))]
            return place
        place = nt.iri(self.iris.department(dept.code))
        out += [(place, RDF_TYPE, t.Departement), (place, t.codeINSEE, nt.text(dept.code)),
                (place, t.nom, nt.fr(dept.name))]
        if dept.region in self.reference.regions:
            out.append((place, self.region_p, self.region(dept.region, out)))
        if dept.wikidata:
            out.append((place, t.exactMatch, nt.iri(WD[dept.wikidata])))
        return place

    def region(self, code: str, out: list[Triple]) -> str:
        region = self.reference.regions[code]
        place = nt.iri(self.iris.region(code))
        out += [(place, RDF_TYPE, self.Region), (place, self.t.codeINSEE, nt.text(code)),
                (place, self.t.nom, nt.fr(region.name))]
        return place

    def commune(self, commune: Commune, out: list[Triple], epci: bool = True) -> str:
        """A current commune with its codes, department, region and EPCI."""
        t = self.t
        place = nt.iri(self.iris.commune(commune.insee))
        out += [(place, RDF_TYPE, t.Commune), (place, t.codeINSEE, nt.text(commune.insee)),
                (place, t.nom, nt.fr(commune.name))]
        dept = self._departments.get(commune.department)
        if dept is not None:
            out.append((place, t.department, self.department(dept.name, dept, out)))
        if commune.region in self.reference.regions:
            out.append((place, self.region_p, self.region(commune.region, out)))
        if commune.wikidata:
            out.append((place, t.exactMatch, nt.iri(WD[commune.wikidata])))
        if epci and commune.epci in self.reference.epcis:
            out.append((place, self.epci_p, self.epci(commune.epci, out, member=place)))
        return place


    def epci(self, siren: str, out: list[Triple], member: str | None = None) -> str:
        """An EPCI à fiscalité propre (a body): the member that brought it here is listed;
        the others are written once, by ``closing_triples``."""
        t, epci = self.t, self.reference.epcis[siren]
        org = nt.iri(self.iris.organisation(f"epci-{siren}"))
        out += [(org, RDF_TYPE, t.FormalOrganization), (org, RDF_TYPE, t.GovernmentOrganization),
                (org, RDF_TYPE, self.Intercommunalite), (org, t.name, nt.fr(epci.name)),
                (org, t.organisationKind, nt.text("epci")), (org, t.siren, nt.text(siren)),
                (org, self.epciKind, nt.text(epci.kind))]
        department = self.reference.epci_department(siren)
        if department:
            out.append((org, t.department, nt.iri(self.iris.department(department))))
        if member:
            out.append((org, self.member, member))
        self._epcis_used.add(siren)
        return org

    def closing_triples(self) -> list[Triple]:
        """Every member commune of every EPCI the build named, written once."""
        out: list[Triple] = []
        for siren in sorted(self._epcis_used):
            org = self.epci(siren, out)
            for code in self.reference.members.get(siren, ()):
                out.append((org, self.member,
                            self.commune(self.reference.communes[code], out, epci=False)))
        return out

    # -- structures ----------------------------------------------------------------------

    def placement(self, structure: str, name: str, written_department: str,
                  out: list[Triple]) -> list[Commune]:
        """The structure's communes and how they were found (or why not), as PROV."""
        found = self.reference.placement(name, written_department)
        node = nt.iri(vocab.part(structure[1:-1], "placement"))
        method = "none" if isinstance(found, Unplaced) else found.method
        said = found.reason if isinstance(found, Unplaced) else found.evidence
        out += [(structure, self.placement_p, node), (node, RDF_TYPE, self.Placement),
                (node, RDF_TYPE, self.ProvEntity), (node, self.method, nt.text(method)),
                (node, self.evidence, nt.text(said))]
        if method == "name":
            out.append((node, self.source, self.cog))
        elif method == "override":
            out.append((node, self.source, nt.text("data/reference/overrides/structures.csv")))
        if isinstance(found, Unplaced):
            return []
        communes = [self.reference.communes[code] for code in found.communes]
        for commune in communes:
            out.append((node, nt.iri(PROV.entity), nt.iri(self.iris.commune(commune.insee))))
        return communes

    # -- bodies --------------------------------------------------------------------------

    def department_body(self, category: str, dept: Department, out: list[Triple]) -> str | None:
        """The body a department-wide category names there, or None if it names no single one."""
        t = self.t
        kind, pattern = DEPARTMENT_BODIES[category]
        body = self.reference.bodies.get((kind, dept.code))
        if body is not None and not body.resolvable:
            return None
        org = nt.iri(self.iris.organisation(f"{kind}-{dept.code.lower()}"))
        name = body.name if body and body.name else pattern.format(of=dept.of_name)
        out += [(org, RDF_TYPE, t.FormalOrganization),
                (org, RDF_TYPE, t.Organization if kind == "caf" else t.GovernmentOrganization),
                (org, t.name, nt.fr(name)), (org, t.organisationKind, nt.text(kind)),
                (org, t.department, nt.iri(self.iris.department(dept.code)))]
        if body and body.siren:
            out.append((org, t.siren, nt.text(body.siren)))
        if body and body.wikidata:
            out.append((org, t.exactMatch, nt.iri(WD[body.wikidata])))
        return org

    def commune_body(self, commune: Commune, out: list[Triple]) -> str:
        """The commune as a body (the collectivity), with its SIREN."""
        t = self.t
        org = nt.iri(self.iris.organisation(f"commune-{commune.insee.lower()}"))
        out += [(org, RDF_TYPE, t.FormalOrganization), (org, RDF_TYPE, t.GovernmentOrganization),
                (org, t.name, nt.fr(f"Commune {commune.of_name}")),
                (org, t.organisationKind, nt.text("commune")),
                (org, t.commune, self.commune(commune, out)),
                (org, t.department, nt.iri(self.iris.department(commune.department)))]
        if commune.siren:
            out.append((org, t.siren, nt.text(commune.siren)))
        return org

    def epci_body(self, communes: list[Commune], out: list[Triple]) -> str | None:
        """The one EPCI the structure's communes belong to, or None (none, or several)."""
        epci = self.reference.epci_of(communes)
        if epci is None:
            return None
        return self.epci(epci.siren, out)
