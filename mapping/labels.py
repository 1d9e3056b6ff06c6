"""The fields of a SENACS "fiche action" export, in their canonical order.

The export is a form printed as text: a record is the line ``Actions``, a title
line, then one block per form field, each opened by a label line ``- Label``.
This table is the single description of that form; the reader, the renderer
and the mapping all read it, so a new field is added here and nowhere else.

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
    """One field of the form: its key in code, its label in the export, its kind."""

    key: str
    label: str
    kind: Kind
    required: bool

    @property
    def label_line(self) -> str:
        return LABEL_PREFIX + self.label


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("structure", "Structure organisatrice", "one", True),
    FieldSpec("files", "Fichier(s) associé(s)", "files", False),
    FieldSpec("status", "Statut de l'action", "one", True),
    FieldSpec("end_reason", "Raisons pour lesquelles l'action est terminée", "text", False),
    FieldSpec("dimension", "Dimension", "one", True),
    FieldSpec("keywords", "Mots clés associés à l'action", "list", True),
    FieldSpec("summary", "Résumé", "text", True),
    FieldSpec("initiators", "Qui est à l'initiative de l'action ?", "list", True),
    FieldSpec("precision", "Précision ( si autre )", "text", False),
    FieldSpec("territory", "Territoire concerné", "one", True),
    FieldSpec(
        "experience",
        "Description de l'expérience, ses objectifs, ses acteurs et ses différentes phases.",
        "text",
        True,
    ),
    FieldSpec("public", "Public", "one", True),
    FieldSpec("partners", "Avec qui cette action a-t-elle été menée ?", "list", True),
    FieldSpec("territory_repeat", "Territoire concerné", "one", True),
    FieldSpec("description", "Description générale", "text", True),
    FieldSpec("resources", "Ressources financières mobilisées pour cette action", "text", True),
    FieldSpec("people", "Nombre de personnes mobilisés pour cette action", "text", True),
    FieldSpec("result_territory", "Résultat sur le territoire", "text", True),
    FieldSpec("result_centre", "Résultat pour le centre social", "text", True),
    FieldSpec("result_residents", "Résultat pour les habitants", "text", True),
    FieldSpec("limits", "Suite de l'action : Limites", "text", True),
    FieldSpec("perspectives", "Suite de l'action : Perspectives", "text", True),
)

FIELD_BY_KEY: dict[str, FieldSpec] = {spec.key: spec for spec in FIELDS}

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
