"""Generated campaigns: a year's export, then the next year's, each record tagged with its fate.

``../shared/tools/gen_senacs.py`` writes one export. :func:`first_campaign` takes its records
(and adds twins: records with the structure and title of another, another text);
:func:`next_campaign` makes the following year's export from it the way a new campaign differs
from the last: some records removed, some added, some edited (their perspectives rewritten),
one structure renamed, and every record in another order. Each record of either campaign
carries an ``id`` that follows it from one year to the next, so that a test knows what
happened to it without asking the code under test.
"""

from __future__ import annotations

import io
import random
import sys
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness import dump_lines

from mapping.reader import ExportFile
from mapping.vocab import slug

SHARED_TOOLS = Path(__file__).resolve().parents[2] / "shared" / "tools"
PROSPECTS = "- Suite de l'action : Perspectives"
STRUCTURE = "- Structure organisatrice"
HEADER = "Les actions des centres sociaux"


@dataclass(frozen=True)
class Entry:
    """One record of a campaign: its text and what it is to the previous campaign."""

    id: int  # the same record in the next campaign has the same id
    text: str  # the record as export text (from its "Actions" line)
    fate: str = "kept"  # kept | edited | added | twin | renamed (its structure was)

    @property
    def structure_line(self) -> str:
        lines = self.text.split("\n")
        return lines[lines.index(STRUCTURE) + 1]

    @property
    def title(self) -> str:
        return self.text.split("\n")[1]

    @property
    def key(self) -> tuple[str, str]:
        """Structure and title as IRIs compare them (case, accents, punctuation aside; a
        title's slug is cut at 60 characters: two long titles that start alike share one)."""
        return slug(self.structure_line, 200), slug(self.title)


@dataclass
class Campaign:
    entries: list[Entry]
    removed: list[Entry] = field(default_factory=list)  # in the previous campaign, not here
    renamed: tuple[str, str] | None = None  # (old name, new name) of the renamed structure

    def text(self) -> str:
        return "\n".join([HEADER] + [e.text for e in self.entries])

    def write(self, path: Path) -> Path:
        path.write_text(self.text(), encoding="utf-8")
        return path

    def by_id(self) -> dict[int, Entry]:
        return {e.id: e for e in self.entries}

    def first_lines(self) -> dict[int, int]:
        """Each record's id → the line its "Actions" line is on in the written export."""
        out, line = {}, 2  # the header is line 1
        for e in self.entries:
            out[e.id] = line
            line += e.text.count("\n") + 1
        return out


def _generated(n: int, seed: int) -> list[str]:
    """n generated records, each as its export text."""
    sys.path.insert(0, str(SHARED_TOOLS))
    try:
        import gen_senacs
    finally:
        sys.path.remove(str(SHARED_TOOLS))
    buffer = io.StringIO()
    gen_senacs.generate(n, seed, buffer)
    lines = buffer.getvalue().split("\n")
    records, current = [], None
    for line in lines[1:]:  # the header first
        if line == "Actions":
            current = [line]
            records.append(current)
        else:
            current.append(line)
    return ["\n".join(r) for r in records]


def edit(text: str, words: str = "Reconduction prévue avec les familles du quartier.") -> str:
    """The record with a line added to its perspectives (no digit: no date, no amount)."""
    lines = text.split("\n")
    at = lines.index(PROSPECTS)
    return "\n".join(lines[:at + 1] + [words] + lines[at + 1:])


def _letters(k: int) -> str:
    """k in letters (a, b, …, z, ba, bb…): no digit, so no date or amount is read in it."""
    out = ""
    while True:
        k, r = divmod(k, 26)
        out = "abcdefghijklmnopqrstuvwxyz"[r] + out
        if k == 0:
            return out


def _retitle(text: str, words: str) -> str:
    """The record with words added to its title (a new action, not one of last year's)."""
    lines = text.split("\n")
    lines[1] = f"{lines[1]} ({words})"
    return "\n".join(lines)


def first_campaign(n: int, seed: int = 3, twins: int = 4) -> Campaign:
    """n generated records, plus ``twins`` records that share structure and title with one of
    them but not their text."""
    texts = _generated(n, seed)
    entries = [Entry(k, t) for k, t in enumerate(texts)]
    rng = random.Random(seed)
    for k, original in enumerate(rng.sample(entries, twins)):
        entries.append(Entry(n + k, edit(original.text, f"Second groupe, variante {_letters(k)}."),
                             "twin"))
    rng.shuffle(entries)
    return Campaign(entries)


def next_campaign(previous: Campaign, seed: int = 5, removed: int = 5, added: int = 6,
                  edited: int = 6) -> Campaign:
    """The next year's campaign: records removed, added, edited, one structure renamed (in every
    one of its records), and all of them reordered. Twins are kept as they are."""
    rng = random.Random(seed)
    entries = list(previous.entries)
    keys: dict[tuple[str, str], list[int]] = defaultdict(list)
    structures: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        keys[e.key].append(e.id)
        structures[e.structure_line].append(e)
    alone = {e.id for e in entries if len(keys[e.key]) == 1}
    start = max(e.id for e in entries) + 1
    fresh = [Entry(start + k, _retitle(t, f"nouveauté {_letters(k)}"), "added")
             for k, t in enumerate(_generated(added, seed + 100))]
    # the renamed structure: one with several records, twins among them if there are some
    # (they keep their IRIs too); the new records are all under other names (its old name is
    # gone after the rename)
    old_line = min((line for line, es in structures.items() if len(es) >= 2),
                   key=lambda line: (all(e.id in alone for e in structures[line]), line))
    other = next(line for line in sorted(structures) if line != old_line)
    fresh = [replace(f, text=f.text.replace(f"\n{old_line}\n", f"\n{other}\n")) for f in fresh]
    old_name, dept = old_line[2:].rsplit(" - ", 1)
    new_name = f"{old_name} ESPACE DES FAMILLES"
    others = [e.id for e in entries if e.id in alone and e.structure_line != old_line]
    gone = set(rng.sample(others, removed))
    changed = set(rng.sample(sorted(set(others) - gone), edited))
    out = []
    for e in entries:
        if e.id in gone:
            continue
        if e.id in changed:
            e = replace(e, text=edit(e.text), fate="edited")
        elif e.structure_line == old_line:
            e = replace(e, text=e.text.replace(f"\n{old_line}\n", f"\n- {new_name} - {dept}\n"),
                        fate="renamed")
        elif e.fate != "twin":
            e = replace(e, fate="kept")
        out.append(e)
    out += fresh
    rng.shuffle(out)
    return Campaign(out, [e for e in entries if e.id in gone], (old_name, new_name))


def actions_by_line(release_dir: Path) -> dict[int, str]:
    """A release's actions by the line their record starts on (read from their provenance)."""
    first = "<https://w3id.org/senacs-kg/def#firstLine>"
    out = {}
    with dump_lines(release_dir) as lines:
        for line in lines:
            subject, predicate, rest = line.split(" ", 2)
            if predicate == first and subject.endswith("#source>"):
                out[int(rest.split('"')[1])] = subject[1:-len("#source>")]
    return out


def records_by_text(path: Path) -> dict[str, int]:
    """How many records of an export have each text (a check that the file reads back)."""
    counts: dict[str, int] = defaultdict(int)
    for record in ExportFile(path).records():
        counts[record.render()] += 1
    return dict(counts)
