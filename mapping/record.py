"""A record of the export as read: raw lines with their line numbers, plus typed views.

The raw lines are the truth: ``Record.render()`` joins them back into the
export text, byte for byte. Every typed value (title, keywords, partners…)
is computed from those lines, so nothing can drift between the two.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from mapping.labels import FIELD_BY_KEY, FIELDS, LABEL_PREFIX, LIST_OPENER, FieldSpec

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with the input, located as ``FILE:LINE``."""

    path: str
    line: int
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.path}:{self.line}: {prefix}{self.message}"


@dataclass(frozen=True, slots=True)
class Field:
    """One labelled block: the label line and the value lines after it, as in the source."""

    spec: FieldSpec
    line: int  # line number of the label line; value line k is at line + 1 + k
    values: tuple[str, ...]

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def lines(self) -> tuple[str, ...]:
        """The block's source lines: label line first."""
        return (self.spec.label_line, *self.values)

    def numbered_values(self) -> Iterator[tuple[int, str]]:
        """Each value line with its line number."""
        for offset, text in enumerate(self.values, start=1):
            yield self.line + offset, text

    @property
    def text(self) -> str:
        """The value as free text (lines joined by newlines)."""
        return "\n".join(self.values)

    @property
    def items(self) -> list[str]:
        """The ``- item`` values of a one/list field, without the dash."""
        return [v[len(LABEL_PREFIX):] for v in self.values if v.startswith(LABEL_PREFIX)]

    def grouped_items(self) -> list[tuple[str | None, str]]:
        """List items with the group heading (``Partenaires d'action:``) they stand under."""
        group: str | None = None
        out: list[tuple[str | None, str]] = []
        for value in self.values:
            if value.startswith(LABEL_PREFIX):
                out.append((group, value[len(LABEL_PREFIX):]))
            elif value != LIST_OPENER and value.endswith(":"):
                group = value[:-1].strip()
        return out


class Record:
    """One "fiche action": its source lines, where each field starts, and typed views.

    The source lines are kept as read; ``fields`` are views over them, built
    on first use (most readers of a 100,000-record file never need them all).
    """

    __slots__ = ("path", "line", "source_lines", "cuts", "problems", "_fields", "_by_key",
                 "_structure_line")

    def __init__(self, path: str, line: int, source_lines: list[str],
                 cuts: tuple[tuple[int, int], ...], problems: tuple[Problem, ...] = ()) -> None:
        self.path = path  # the export file
        self.line = line  # line number of the "Actions" line
        self.source_lines = source_lines  # "Actions", the title, then every field's lines
        self.cuts = cuts  # (position in FIELDS, index in source_lines) of each label line
        self.problems = problems
        self._fields: tuple[Field, ...] | None = None
        self._by_key: dict[str, Field] | None = None
        self._structure_line: str | None | bool = False  # False: not read yet

    def __repr__(self) -> str:
        return f"<Record {self.path}:{self.line} {self.title!r}>"

    @property
    def fields(self) -> tuple[Field, ...]:
        """The labelled blocks, in source order."""
        if self._fields is None:
            lines, line = self.source_lines, self.line
            ends = [start for _, start in self.cuts[1:]] + [len(lines)]
            self._fields = tuple(
                Field(FIELDS[pos], line + start, tuple(lines[start + 1:end]))
                for (pos, start), end in zip(self.cuts, ends))
        return self._fields

    # -- raw lines ---------------------------------------------------------------

    def lines(self) -> list[str]:
        """The record's source lines, in order."""
        return list(self.source_lines)

    def render(self) -> str:
        """The record as export text (LF line endings, no trailing newline)."""
        return "\n".join(self.source_lines)

    @property
    def title_line(self) -> str | None:
        """The line after "Actions"; None only when the record is cut off right after it."""
        return self.source_lines[1] if len(self.source_lines) > 1 else None

    @property
    def end_line(self) -> int:
        """Line number of the record's last line."""
        return self.line + len(self.source_lines) - 1

    @property
    def ok(self) -> bool:
        """True when the record has no error (warnings allowed)."""
        return all(p.severity != "error" for p in self.problems)

    # -- typed values ------------------------------------------------------------

    def field(self, key: str) -> Field | None:
        """The first field with that key, or None if the record lacks it."""
        if self._by_key is None:
            by_key: dict[str, Field] = {}
            for f in self.fields:
                by_key.setdefault(f.key, f)
            self._by_key = by_key
        return self._by_key.get(key)

    def text(self, key: str) -> str:
        """A free-text field's value ('' when absent or empty)."""
        if key not in FIELD_BY_KEY:
            raise KeyError(key)
        f = self.field(key)
        return f.text if f else ""

    def _items(self, key: str) -> list[str]:
        f = self.field(key)
        return f.items if f else []

    def _one(self, key: str) -> str | None:
        items = self._items(key)
        return items[0] if items else None

    @property
    def title(self) -> str:
        return self.title_line or ""

    @property
    def structure_line(self) -> str | None:
        """The raw ``NAME - Département`` value (read once: the mapping asks for it often)."""
        if self._structure_line is False:
            self._structure_line = self._one("structure")
        return self._structure_line

    @property
    def structure_name(self) -> str | None:
        """The structure's name: everything before the last `` - `` (names may contain it)."""
        value = self.structure_line
        if value is None:
            return None
        return value.rsplit(" - ", 1)[0] if " - " in value else value

    @property
    def department(self) -> str | None:
        value = self.structure_line
        if value is None or " - " not in value:
            return None
        return value.rsplit(" - ", 1)[1]

    @property
    def status(self) -> str | None:
        return self._one("status")

    @property
    def end_reason(self) -> str:
        return self.text("end_reason")

    @property
    def dimension(self) -> str | None:
        return self._one("dimension")

    @property
    def keywords(self) -> list[str]:
        return self._items("keywords")

    @property
    def initiators(self) -> list[str]:
        return self._items("initiators")

    @property
    def precision(self) -> str:
        return self.text("precision")

    @property
    def territory_scale(self) -> str | None:
        return self._one("territory")

    @property
    def public(self) -> str | None:
        return self._one("public")

    @property
    def partner_categories(self) -> list[str]:
        return self._items("partners")

    @property
    def partner_groups(self) -> list[tuple[str | None, str]]:
        """Partner categories with their heading, e.g. ``("Partenaires d'action", "Caf")``."""
        f = self.field("partners")
        return f.grouped_items() if f else []

    @property
    def attached_files(self) -> list[str]:
        """Attached file names, one per value line (a leading ``- `` is not part of the name)."""
        f = self.field("files")
        if f is None:
            return []
        return [v[len(LABEL_PREFIX):] if v.startswith(LABEL_PREFIX) else v
                for v in f.values if v.strip()]
