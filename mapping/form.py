"""The form's values and the export text they print as: the bridge between records and the graph.

A well-formed record is fully described by its :class:`FormValues` (title, and
for each field shown: its items or its text); :func:`render` prints those
values exactly as the SENACS export does. The mapping writes FormValues into
the graph and ``export-text`` reads them back, so the source text can be
recovered from the graph alone. When a record departs from the form's layout
(a malformed record, list items out of the form's order…), ``render`` does not
give its text back, and the mapping keeps the record's text verbatim instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mapping.labels import FIELDS, LABEL_PREFIX, LIST_OPENER, RECORD_START
from mapping.record import Record

PARTNERS_HEADING = "Partenaires d'action:"


@dataclass
class FormValues:
    """What a record says, field by field.

    ``fields`` holds one entry per field the record shows, by key: a list of
    items for ``one``/``list``/``files`` fields, the text for ``text`` fields
    (``""`` for a label with no value).
    """

    title: str
    fields: dict[str, list[str] | str] = field(default_factory=dict)


def values_of(record: Record) -> FormValues:
    """The record's values as the form knows them (items without their dashes)."""
    values = FormValues(record.title)
    for f in record.fields:
        if f.key in values.fields:  # a field shown twice: not the form's layout
            continue
        if f.spec.kind == "text":
            values.fields[f.key] = f.text
        elif f.spec.kind == "files":
            values.fields[f.key] = record.attached_files
        else:
            values.fields[f.key] = f.items
    return values


def render_lines(values: FormValues) -> list[str]:
    """The record's lines as the export prints them."""
    lines = [RECORD_START, values.title]
    for spec in FIELDS:
        if spec.key not in values.fields:
            continue
        value = values.fields[spec.key]
        lines.append(spec.label_line)
        if spec.kind == "text":
            assert isinstance(value, str)
            if value:
                lines.extend(value.split("\n"))
            continue
        if spec.kind == "list":
            lines.append(LIST_OPENER)
            if spec.key == "partners":
                lines.append(PARTNERS_HEADING)
        lines.extend(LABEL_PREFIX + item for item in value)
    return lines


def render(values: FormValues) -> str:
    """The record as export text (no trailing newline), as ``Record.render`` gives it."""
    return "\n".join(render_lines(values))
