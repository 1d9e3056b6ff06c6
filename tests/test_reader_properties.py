"""Property tests: whatever the text, reading loses nothing and types values right.

Free text may hold anything that is not ambiguous by the form's rules: lines
that look like labels the order does not allow next, "Actions" lines, dashes,
any Unicode. The one thing it cannot hold is the very label the form expects
next: that line *is* the label (see mapping/reader.py).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from conftest import render_file
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mapping.labels import FIELDS, LABEL_LINES, NEXT_LIMIT, PAGE_HEADER, RECORD_START
from mapping.reader import ExportFile

LINE_CHARS = st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",))
plain = st.text(LINE_CHARS, max_size=30)
nonblank = plain.filter(lambda s: s.strip() != "")
tricky_line = st.one_of(
    plain,
    st.sampled_from(sorted(LABEL_LINES) + [RECORD_START, "-", "- ", "Partenaires d'action:"]),
    plain.map(lambda s: "- " + s),
)


def allowed_next(pos: int) -> frozenset[str]:
    """Label lines the form allows right after the field at ``pos``."""
    return frozenset(FIELDS[p].label_line for p in range(pos + 1, NEXT_LIMIT[pos + 1] + 1))


@st.composite
def records(draw) -> dict:
    """A record as the typed values it should read back as, plus its lines."""
    title = draw(nonblank)
    lines = [RECORD_START, title]
    values: dict[str, object] = {"title": title}
    for pos, spec in enumerate(FIELDS):
        if not spec.required and not draw(st.booleans()):
            continue
        banned = allowed_next(pos)
        lines.append(spec.label_line)
        if spec.kind == "one":
            if spec.key == "structure":
                name = draw(nonblank)
                dept = draw(nonblank.filter(lambda s: " - " not in s and not s.startswith("- ")))
                items = [f"{name} - {dept}"]
                values["department"] = dept
            elif spec.key == "territory_repeat":
                items = list(values["territory"])  # the form repeats the same value
            elif spec.key == "status" or draw(st.booleans()):
                items = [draw(nonblank)]
            else:
                items = []
            body = ["- " + v for v in items]
        elif spec.kind == "list":
            items = draw(st.lists(nonblank, max_size=4))
            body = ["-"] + (["Partenaires d'action:"] if spec.key == "partners" else [])
            body += ["- " + v for v in items]
        else:
            body = draw(st.lists(tricky_line, max_size=5))
            items = None
        assume(not banned.intersection(body))
        lines.extend(body)
        values[spec.key] = items if items is not None else "\n".join(body)
    return {"lines": lines, "values": values}


def _no_false_start(lines: list[str], last: bool) -> bool:
    """Reject text that forms a record start, or a cut-off one at the end of the file."""
    for i in range(1, len(lines)):
        if lines[i] == RECORD_START and i + 2 < len(lines) and lines[i + 2] == FIELDS[0].label_line:
            return False
    return not (last and RECORD_START in lines[-2:])


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records(), min_size=1, max_size=4),
       st.sampled_from([1, 5, 64, 1 << 16]), st.booleans())
def test_generated_records_read_back_exactly(workdir, recs, block_size, final_newline):
    for n, rec in enumerate(recs):
        assume(_no_false_start(rec["lines"], last=n == len(recs) - 1))
    # A file ending in an empty line and no newline reads as one ending in a newline:
    # the same bytes, so the reader cannot tell (it picks the newline).
    assume(final_newline or recs[-1]["lines"][-1] != "")
    text = "\n".join([PAGE_HEADER] + ["\n".join(r["lines"]) for r in recs])
    text += "\n" if final_newline else ""
    path = workdir / "prop.txt"
    path.write_bytes(text.encode("utf-8"))
    export = ExportFile(path, block_size=block_size)
    got = list(export.records())

    assert render_file(export, got) == text
    assert export.problems == []
    assert len(got) == len(recs)
    for record, rec in zip(got, recs):
        assert record.problems == ()
        want = rec["values"]
        assert record.title == want["title"]
        assert record.department == want["department"]
        for spec in FIELDS:
            if spec.key not in want:
                assert record.field(spec.key) is None
            elif spec.kind == "one":
                assert record.field(spec.key).items == want[spec.key]
            elif spec.kind == "list":
                assert record.field(spec.key).items == want[spec.key]
            else:
                assert record.field(spec.key).text == want[spec.key]


PROBLEM = re.compile(r"^(?P<path>.+):(?P<line>\d+): ")


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_seed_never_loses_a_character(workdir, seed_text, data):
    """Delete, duplicate, replace lines at random: the text always renders back,
    and every problem is located at a real line of the file."""
    lines = seed_text.split("\n")
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["delete", "duplicate", "replace", "insert"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        else:
            new = data.draw(tricky_line)
            lines[i:i + (op == "replace")] = [new]
        if not lines:
            lines = [""]
    text = "\n".join(lines)
    path = workdir / "mutated.txt"
    path.write_bytes(text.encode("utf-8"))
    export = ExportFile(path, block_size=data.draw(st.sampled_from([7, 1 << 16])))
    got = list(export.records())

    assert render_file(export, got) == text
    n_lines = text.count("\n") + 1
    for problem in [p for r in got for p in r.problems] + export.problems:
        m = PROBLEM.match(str(problem))
        assert m and m["path"] == str(path)
        assert 1 <= int(m["line"]) <= n_lines
