"""Stream records out of SENACS text exports, losing nothing and reporting every problem.

Two rules make the text unambiguous:

* a record starts at a line ``Actions`` whose next-but-one line is
  ``- Structure organisatrice`` (menus and free text can say "Actions" too);
* a line ``- Label`` is a label only where the canonical order of the form
  allows one (free text may contain lines that look exactly like labels).

The file is read in blocks and split into records with C-speed string
operations; only the ~20 label candidates of a record are looked at in Python,
so reading stays within a small factor of plain line iteration and memory holds
one block and one record.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from difflib import get_close_matches
from itertools import compress
from pathlib import Path
from typing import NamedTuple

from mapping.decoding import BLOCK_SIZE, DecodeInfo, EncodingRefused, iter_text
from mapping.labels import (
    FIELDS,
    LABEL_LINES,
    LABEL_PREFIX,
    LIST_OPENER,
    NEXT_LIMIT,
    PAGE_HEADER,
    POSITIONS,
    RECORD_START,
    FieldSpec,
)
from mapping.record import Problem, Record

_STRUCTURE_LABEL = FIELDS[0].label_line
_FINAL = len(FIELDS) - 1
_TERRITORY = "Territoire concerné"
_IS_LABEL_LINE = LABEL_LINES.__contains__


def _indices(lines: list[str], value: str, since: int) -> Iterator[int]:
    """Indices of ``value`` in lines from ``since`` (list.index scans in C)."""
    index = lines.index
    i = since
    while True:
        try:
            i = index(value, i)
        except ValueError:
            return
        yield i
        i += 1


def _find_starts(lines: list[str], since: int, final: bool) -> tuple[list[int], int]:
    """Indices of the record starts in ``lines`` from ``since``, and where to resume.

    A start is a line "Actions" whose next-but-one line is exactly the structure
    label. A candidate too close to the end to decide is left for the next block;
    at the end of the file (``final``) an "Actions" line among the last two lines
    is a record cut off early, reported as such rather than hidden in the text
    before it.
    """
    starts = []
    n = len(lines)
    for i in _indices(lines, RECORD_START, since):
        if i + 2 < n:
            if lines[i + 2] == _STRUCTURE_LABEL:
                starts.append(i)
        elif not final:
            return starts, i
        else:
            starts.append(i)
            break
    return starts, max(n - 2, since)


@dataclass
class ExportFile:
    """One export being read: its records stream from ``records()``.

    File-level facts (the page header or boilerplate before the first record,
    whether the file ends with a newline, encoding problems) are filled in as
    reading goes and are complete once ``records()`` is exhausted.
    """

    path: Path
    encoding: str | None = None
    preamble: list[str] = field(default_factory=list)
    final_newline: bool = False
    problems: list[Problem] = field(default_factory=list)
    decode: DecodeInfo = field(default_factory=DecodeInfo)
    block_size: int = BLOCK_SIZE

    @property
    def name(self) -> str:
        return str(self.path)

    def records(self) -> Iterator[Record]:
        """Yield every record of the file in order, each with its own problems attached."""
        try:
            handle = open(self.path, "rb")
        except OSError as err:
            self.problems.append(Problem(self.name, 0, f"cannot open: {err.strerror}"))
            return
        with handle:
            try:
                yield from self._split(iter_text(handle, self.encoding, self.decode, self.block_size))
            except EncodingRefused as err:
                self.problems.append(Problem(self.name, err.line, err.message))

    def _split(self, blocks: Iterable[str]) -> Iterator[Record]:
        """Cut the text into records, a block at a time, at the line level."""
        partial = ""  # the incomplete last line of the blocks read so far
        pending: list[str] = []  # lines of the current record (or of the preamble)
        line = 1  # line number of pending[0]
        resume = 0  # index in pending from which record starts are not yet decided
        started = False
        for block in blocks:
            parts = block.split("\n")
            parts[0] = partial + parts[0]
            partial = parts.pop()
            pending += parts
            starts, resume = _find_starts(pending, resume, final=False)
            if not started and starts:
                line = self._set_preamble(pending[:starts[0]], line)
                started = True
            elif starts:
                starts.insert(0, 0)
            for record_lines in _cut(pending, starts):
                yield self._record(record_lines, line, last=False)
                line += len(record_lines)
            if starts:
                pending = pending[starts[-1]:]
                resume -= starts[-1]
        self.final_newline = partial == "" and bool(pending)
        if not self.final_newline:
            pending.append(partial)
        yield from self._finish(pending, line, resume, started)

    def _finish(self, pending: list[str], line: int, resume: int,
                started: bool) -> Iterator[Record]:
        """Yield the records left at the end of the file (the last may be cut off)."""
        starts, _ = _find_starts(pending, resume, final=True)
        if not started:
            if not starts:
                self._set_preamble(pending if pending != [""] else [], line)
                self.problems.append(Problem(self.name, 1, (
                    "no record found: expected a line 'Actions', a title line and "
                    "'- Structure organisatrice'")))
                return
            line = self._set_preamble(pending[:starts[0]], line)
        else:
            starts.insert(0, 0)
        records = list(_cut(pending, starts + [len(pending)]))
        for n, record_lines in enumerate(records):
            yield self._record(record_lines, line, last=n == len(records) - 1)
            line += len(record_lines)

    def _set_preamble(self, lines: list[str], line: int) -> int:
        """Keep the lines before the first record; report them unless they are the page header.

        Returns the line number of the first record.
        """
        self.preamble = lines
        if lines and lines != [PAGE_HEADER]:
            n = len(lines)
            self.problems.append(Problem(self.name, line, (
                f"skipped {n} line{'s' if n > 1 else ''} of boilerplate before the first "
                f"record (lines {line}-{line + n - 1})"), "warning"))
        return line + len(lines)

    def _record(self, lines: list[str], line: int, last: bool) -> Record:
        return parse_record(lines, self.name, line, last)


def _cut(lines: list[str], starts: list[int]) -> Iterator[list[str]]:
    """The lines of each record: from each start to the next (the last start only bounds)."""
    for begin, end in zip(starts, starts[1:]):
        yield lines[begin:end]


def parse_record(lines: list[str], path: str, line: int, last: bool = False) -> Record:
    """Build a Record from its source lines (``lines[0]`` is ``Actions``).

    The strict reading of a sequence of label-like lines depends only on that
    sequence, and real exports use a handful of them, so it is computed once
    per sequence; a record whose values also pass the quick checks costs a few
    list operations. Anything unusual takes the slow path, which explains it.
    """
    candidates = _label_indices(lines)
    layout = _layout(tuple(map(lines.__getitem__, candidates)))
    starts = candidates if layout.all_kept else [candidates[k] for k in layout.kept]
    cuts = tuple(zip(layout.positions, starts))
    if layout.complete and _quick_check(lines, starts, layout):
        return Record(path, line, lines, cuts, ())
    problems: list[Problem] = []
    if not layout.complete:
        cuts = tuple(_segment(lines, candidates, lenient=True))
        _report_missing(list(cuts), lines, path, line, last, problems)
    _check_fields(lines, cuts, path, line, problems)
    problems = _one_per_line(problems)
    # Every line is in the title or a field: a record starts "Actions", its title,
    # "- Structure organisatrice" (or is cut off within its first two lines).
    return Record(path, line, lines, cuts, tuple(problems))


def _one_per_line(problems: list[Problem]) -> list[Problem]:
    """In line order, the first explanation of each line (a typo is not also 'expected …')."""
    seen: set[int] = set()
    out = []
    for problem in sorted(problems, key=lambda p: p.line):
        if problem.line not in seen:
            seen.add(problem.line)
            out.append(problem)
    return out


class _Layout(NamedTuple):
    """The strict reading of one sequence of label-like lines."""

    kept: tuple[int, ...]  # which of the label-like lines are labels
    all_kept: bool  # every label-like line is a label (no look-alike in free text)
    positions: tuple[int, ...]  # their positions in FIELDS
    complete: bool  # every required field found, in order
    one_slots: tuple[int, ...]  # indices (into kept) of radio-button fields
    list_slots: tuple[int, ...]  # indices (into kept) of checkbox fields
    territory_slots: tuple[int, ...]


_LAYOUTS: dict[tuple[str, ...], _Layout] = {}


def _layout(label_like: tuple[str, ...]) -> _Layout:
    layout = _LAYOUTS.get(label_like)
    if layout is None:
        cuts = _segment(list(label_like), list(range(len(label_like))), lenient=False)
        kept = tuple(k for _, k in cuts)
        positions = tuple(p for p, _ in cuts)
        slots = list(enumerate(positions))
        layout = _Layout(
            kept, len(kept) == len(label_like), positions, bool(positions) and positions[-1] == _FINAL,
            tuple(k for k, p in slots if FIELDS[p].kind == "one"),
            tuple(k for k, p in slots if FIELDS[p].kind == "list"),
            tuple(k for k, p in slots if FIELDS[p].label == _TERRITORY))
        if len(_LAYOUTS) < 4096:  # hostile input must not grow it without bound
            _LAYOUTS[label_like] = layout
    return layout


def _quick_check(lines: list[str], starts: list[int], layout: _Layout) -> bool:
    """True when a complete record's values are surely well formed (no problem to report)."""
    title = lines[1]
    if not title or title.isspace():
        return False
    for k in layout.one_slots:
        start = starts[k]
        if starts[k + 1] != start + 2:
            return False
        value = lines[start + 1]
        if value[:2] != LABEL_PREFIX or value == LABEL_PREFIX:
            return False
    if " - " not in lines[2 + 1][2:]:  # the structure: NAME - Département
        return False
    for k in layout.list_slots:
        start, end = starts[k], starts[k + 1]
        if lines[start + 1] != LIST_OPENER:
            return False
        for value in lines[start + 2:end]:
            if value[:2] != LABEL_PREFIX or value == LABEL_PREFIX:
                if not (value.endswith(":") and FIELDS[layout.positions[k]].key == "partners"):
                    return False
    first, second = layout.territory_slots
    return lines[starts[first] + 1] == lines[starts[second] + 1]


def _check_fields(lines: list[str], cuts: tuple[tuple[int, int], ...], path: str, line: int,
                  problems: list[Problem]) -> None:
    """Report every malformed value of a record (the slow, explaining path)."""
    if len(lines) > 1 and not lines[1].strip():
        problems.append(Problem(path, line + 1, "expected the action's title, found an empty line"))
    ends = [start for _, start in cuts[1:]] + [len(lines)]
    territories = []
    for (pos, start), end in zip(cuts, ends):
        spec = FIELDS[pos]
        if spec.kind == "one":
            _check_one(spec, lines, start, end, path, line, problems)
            if spec.label == _TERRITORY:
                territories.append((start, lines[start + 1:end]))
        elif spec.kind == "list":
            _check_list(spec, lines, start, end, path, line, problems)
    if len(territories) == 2 and territories[0][1] != territories[1][1]:
        (first, a), (second, b) = territories
        problems.append(Problem(path, line + second, (
            f"the second {_TERRITORY!r} says {b!r} but the first says {a!r} "
            f"(line {line + first})"), "warning"))


def _label_indices(lines: list[str]) -> list[int]:
    """Indices of the lines that read exactly like a label (a C-level scan: map + compress)."""
    return list(compress(range(len(lines)), map(_IS_LABEL_LINE, lines)))


def _segment(lines: list[str], candidates: list[int], lenient: bool) -> list[tuple[int, int]]:
    """Pick the label lines: (position in FIELDS, line index) in order.

    Strict: the next label is one the form allows next (optional fields may be
    skipped, required ones may not). Lenient, used only to explain a record the
    strict pass could not complete: any later label counts.
    """
    pos = -1
    cuts: list[tuple[int, int]] = []
    for i in candidates:
        limit = _FINAL if lenient else NEXT_LIMIT[pos + 1]
        for p in POSITIONS[lines[i]]:
            if pos < p <= limit:
                cuts.append((p, i))
                pos = p
                break
    return cuts


def _report_missing(cuts: list[tuple[int, int]], lines: list[str], path: str, line: int,
                    last: bool, problems: list[Problem]) -> None:
    """Name each required label the record lacks, at the line where it was expected."""
    seen = {p for p, _ in cuts}
    after = dict(cuts)
    last_pos = cuts[-1][0] if cuts else -1
    for p, spec in enumerate(FIELDS):
        if not spec.required or p in seen or p > last_pos:
            continue
        nxt = min(q for q in seen if q > p)
        prev = max((after[q] for q in seen if q < p), default=0)
        typo = _lookalike(spec.label_line, lines, prev, after[nxt])
        if typo is not None:
            problems.append(Problem(path, line + typo, (
                f"unknown label {lines[typo]!r} where {spec.label_line!r} is required "
                f"(a typo?)")))
        else:
            problems.append(Problem(path, line + after[nxt], (
                f"missing label {spec.label_line!r}: expected it before "
                f"{FIELDS[nxt].label_line!r}")))
    missing_tail = [FIELDS[p].label_line for p in range(last_pos + 1, len(FIELDS))
                    if FIELDS[p].required]
    if missing_tail:
        end = line + len(lines) - 1
        names = ", ".join(repr(m) for m in missing_tail[:3])
        more = f" and {len(missing_tail) - 3} more" if len(missing_tail) > 3 else ""
        what = "truncated record: the file ends" if last else "record ends"
        problems.append(Problem(path, end, (
            f"{what} inside the record that starts at line {line}; expected "
            f"{names}{more}, found {lines[-1]!r}")))


def _lookalike(label_line: str, lines: list[str], start: int, end: int) -> int | None:
    """The index of the line probably meant as the missing label (a typo), if any."""
    close = get_close_matches(label_line, lines[start + 1:end], n=1, cutoff=0.8)
    return lines.index(close[0], start + 1) if close else None


def _check_one(spec: FieldSpec, lines: list[str], start: int, end: int, path: str,
               line: int, problems: list[Problem]) -> None:
    """A radio-button field: at most one ``- value`` line, then the next label."""
    if end == start + 2:
        value = lines[start + 1]
        if value.startswith(LABEL_PREFIX) and value != LABEL_PREFIX:
            if spec.key == "structure" and " - " not in value[2:]:
                problems.append(Problem(path, line + start + 1, (
                    f"expected 'NAME - Département' as the structure, found {value!r}")))
            return
    elif end == start + 1:
        if spec.key in ("structure", "status"):
            problems.append(Problem(path, line + start, (
                f"expected a value line '- …' after {spec.label_line!r}, found none")))
        return
    for i in range(start + 1, end):
        value = lines[i]
        if i == start + 1 and value.startswith(LABEL_PREFIX) and value != LABEL_PREFIX:
            continue
        expected = "a label" if i > start + 1 else f"a value line '- …' for {spec.label_line!r}"
        problems.append(Problem(path, line + i, f"expected {expected}, found {value!r}"))


def _check_list(spec: FieldSpec, lines: list[str], start: int, end: int, path: str,
                line: int, problems: list[Problem]) -> None:
    """A checkbox field: the opener ``-``, then ``- item`` lines (and group headings)."""
    first = start + 1
    if first < end and lines[first] == LIST_OPENER:
        first += 1
    else:
        found = lines[first] if first < end else "the next label"
        problems.append(Problem(path, line + first, (
            f"expected the list opener '-' after {spec.label_line!r}, found {found!r}")))
    for i in range(first, end):
        value = lines[i]
        if value.startswith(LABEL_PREFIX) and value != LABEL_PREFIX:
            continue
        if spec.key == "partners" and value.endswith(":"):
            continue  # group heading, e.g. "Partenaires d'action:"
        problems.append(Problem(path, line + i, f"expected a list item '- …', found {value!r}"))
