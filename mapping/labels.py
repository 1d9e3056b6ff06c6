"""The fields of a SENACS "fiche action" export, in their canonical order, and where each goes.

The export is a form printed as text: a record is the line ``Actions``, a title
line, then one block per form field, each opened by a label line ``- Label``.
This table is the single description of that form: its labels and kinds (the
reader and the renderer read them), and for each field the RDF property its
value is written with and, for a controlled field, the SKOS concept scheme of
its values (the mapper, the concept schemes and ``export-text`` read them). A
new field is added here; ``ontology/form.ttl`` (one ``senacs:FormField`` per
field), the schemes of ``ontology/schemes.ttl`` and the SHACL shapes describe
the same fields for the graph, and ``tests/test_form_mapping.py`` holds them to
this table.

Kinds say how a field's value lines are written:

``one``
    at most one ``- value`` line (a radio button);
``list``
    an opener line ``-``, then ``- item`` lines (checkboxes); the partner list
    also has group headings such as ``Partenaires d'action:``;
``text``
    free text, any number of lines, which may themselves start with ``- ``;
``files``
    attached file names, one per line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RECORD_START = "Actions"
LABEL_PREFIX = "- "
LIST_OPENER = "-"
PAGE_HEADER = "Les actions des centres sociaux"

Kind = Literal["one", "list", "text", "files"]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of the form: its key in code, its label in the export, its kind, and the
    property (a prefixed name of ``vocab.PREFIXES``) and scheme its value takes in the graph."""

    key: str
    label: str
    kind: Kind
    required: bool
    prop: str
    scheme: str | None = None  # a controlled field's SKOS scheme: {base}concept/{scheme}
    repeat_of: str | None = None  # the form shows that field again here; the graph holds it once

    @property
    def label_line(self) -> str:
        return LABEL_PREFIX + self.label


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("structure", "Structure organisatrice", "one", True, "schema:agent"),
    FieldSpec("files", "Fichier(s) associé(s)", "files", False, "schema:associatedMedia"),
    FieldSpec("status", "Statut de l'action", "one", True, "senacs:status", "status"),
    FieldSpec("end_reason", "Raisons pour lesquelles l'action est terminée", "text", False,
              "senacs:endReason"),
    FieldSpec("dimension", "Dimension", "one", True, "senacs:dimension", "dimension"),
    FieldSpec("keywords", "Mots clés associés à l'action", "list", True, "senacs:keyword",
              "keyword"),
    FieldSpec("summary", "Résumé", "text", True, "senacs:summary"),
    FieldSpec("initiators", "Qui est à l'initiative de l'action ?", "list", True,
              "senacs:initiator", "initiator"),
    FieldSpec("precision", "Précision ( si autre )", "text", False, "senacs:initiativeNote"),
    FieldSpec("territory", "Territoire concerné", "one", True, "senacs:territoryScale",
              "territory-scale"),
    FieldSpec(
        "experience",
        "Description de l'expérience, ses objectifs, ses acteurs et ses différentes phases.",
        "text",
        True,
        "senacs:experience",
    ),
    FieldSpec("public", "Public", "one", True, "senacs:audience", "public"),
    FieldSpec("partners", "Avec qui cette action a-t-elle été menée ?", "list", True,
              "senacs:partnerCategory", "partner-category"),
    FieldSpec("territory_repeat", "Territoire concerné", "one", True, "senacs:territoryScale",
              "territory-scale", repeat_of="territory"),
    FieldSpec("description", "Description générale", "text", True, "senacs:generalDescription"),
    FieldSpec("resources", "Ressources financières mobilisées pour cette action", "text", True,
              "senacs:resourcesText"),
    FieldSpec("people", "Nombre de personnes mobilisés pour cette action", "text", True,
              "senacs:peopleText"),
    FieldSpec("result_territory", "Résultat sur le territoire", "text", True,
              "senacs:resultForTerritory"),
    FieldSpec("result_centre", "Résultat pour le centre social", "text", True,
              "senacs:resultForCentre"),
    FieldSpec("result_residents", "Résultat pour les habitants", "text", True,
              "senacs:resultForResidents"),
    FieldSpec("limits", "Suite de l'action : Limites", "text", True, "senacs:limits"),
    FieldSpec("perspectives", "Suite de l'action : Perspectives", "text", True,
              "senacs:perspectives"),
)

FIELD_BY_KEY: dict[str, FieldSpec] = {spec.key: spec for spec in FIELDS}
# The table's fields grouped by how the graph holds them.
TEXT_FIELDS: tuple[FieldSpec, ...] = tuple(s for s in FIELDS if s.kind == "text")
CONCEPT_FIELDS: tuple[FieldSpec, ...] = tuple(s for s in FIELDS if s.scheme and not s.repeat_of)
REPEATED_FIELDS: tuple[FieldSpec, ...] = tuple(s for s in FIELDS if s.repeat_of)
OPTIONAL_FIELDS: tuple[str, ...] = tuple(s.key for s in FIELDS if not s.required)

# Every label line, mapped to the positions in FIELDS where it may stand
# ("Territoire concerné" stands at two).
POSITIONS: dict[str, tuple[int, ...]] = {}
for _i, _spec in enumerate(FIELDS):
    POSITIONS[_spec.label_line] = POSITIONS.get(_spec.label_line, ()) + (_i,)
del _i, _spec

LABEL_LINES: frozenset[str] = frozenset(POSITIONS)


def _next_required() -> tuple[int, ...]:
    """For each position (and -1, the title), the last position the next label may take.

    Optional fields may be skipped, required ones may not: after position p the
    next label is one of p+1 .. the first required field after p.
    """
    out = []
    for pos in range(-1, len(FIELDS)):
        nxt = pos + 1
        while nxt < len(FIELDS) - 1 and not FIELDS[nxt].required:
            nxt += 1
        out.append(min(nxt, len(FIELDS) - 1))
    return tuple(out)


# NEXT_LIMIT[pos + 1] is the furthest position the label after position pos may take.
NEXT_LIMIT: tuple[int, ...] = _next_required()

# Values the website's form offers for the status radio button.
STATUS_FINISHED = "Terminée"
STATUS_ONGOING = "En cours"
