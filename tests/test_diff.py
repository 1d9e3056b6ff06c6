"""`senacs-kg diff`: what changed between two real releases, and the changeset it writes.

Two campaigns are generated (tests/campaigns.py: records removed, added, edited, one structure
renamed and declared, all reordered, another file name) and built; each record's action is
found in each release by the line its record starts on, so what the diff must report is known
without the code under test.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
from campaigns import Campaign, actions_by_line, first_campaign, next_campaign
from conftest import dump_text, run_cli, senacs_kg
from rdflib import Graph
from rdflib.namespace import RDF, SH

from mapping import diff, shacl
from mapping.vocab import DEFAULT_BASE, Iris

B = DEFAULT_BASE
D = B + "def#"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(first campaign, second campaign, release 1, release 2, renamed structure's IRI)."""
    folder = tmp_path_factory.mktemp("diff")
    first = first_campaign(60)
    second = next_campaign(first)
    old, new = second.renamed
    renames = folder / "renames.csv"
    renames.write_text("old_name,department,new_name,since,source\n"
                       f"{old},Haute-Garonne,{new},2025,the test's own declaration\n",
                       encoding="utf-8")
    releases = []
    for campaign, name in ((first, "senacs-2024.txt"), (second, "senacs-2025.txt")):
        out = folder / name.replace(".txt", "")
        run = senacs_kg("build", str(campaign.write(folder / name)), "--out", str(out),
                        "--renames", str(renames))
        assert run.returncode == 0, run.stderr
        releases.append(out)
    return first, second, releases[0], releases[1], str(Iris().structure(Iris.structure_slug(old, "31")))


def action_iris(campaign: Campaign, release: Path) -> dict[int, str]:
    """Each record's id → its action's IRI in the release."""
    by_line = actions_by_line(release)
    return {id_: by_line[line] for id_, line in campaign.first_lines().items()}


def printed(stdout: str) -> dict[tuple[str, str], tuple[str, set[str]]]:
    """(kind, IRI) → (status, fields) from the diff's lines."""
    out = {}
    for line in stdout.splitlines():
        status, kind, rest = line.split(" ", 2)
        iri, _, fields = rest.partition(": ")
        out[(kind, iri)] = (status, set(fields.split(", ")) if fields else set())
    return out


def test_the_diff_prints_each_action_added_removed_and_changed_with_its_fields(built):
    first, second, old, new, structure = built
    run = run_cli("diff", str(old), str(new))
    assert run.returncode == 0, run.stderr
    seen = printed(run.stdout)
    before, after = action_iris(first, old), action_iris(second, new)
    fates = {e.id: e.fate for e in second.entries}
    expected = {("action", before[e.id]): ("removed", set()) for e in second.removed}
    for id_, fate in fates.items():
        if fate == "added":
            expected[("action", after[id_])] = ("added", set())
        elif fate == "edited":
            expected[("action", after[id_])] = ("changed", {"senacs:perspectives"})
        elif fate == "renamed":  # declared: the same IRI, the name as written changed
            assert after[id_] == before[id_]
            expected[("action", after[id_])] = ("changed", {"senacs:organiserName"})
    actions = {key: value for key, value in seen.items() if key[0] == "action"}
    for key, (status, fields) in actions.items():
        # a structure placed by hand under its old name (overrides/structures.csv) is not
        # placed under its new one: the partners its commune resolved are gone too
        if expected.get(key) == ("changed", {"senacs:organiserName"}):
            assert fields - {"senacs:resolvedPartner"} == {"senacs:organiserName"}
            actions[key] = (status, {"senacs:organiserName"})
    assert actions == expected  # kept and twin records: reordered, another file, not reported
    counts = [sum(v[0] == s for v in expected.values()) for s in ("added", "removed", "changed")]
    assert counts[:2] == [6, 5] and counts[2] > 6
    assert seen[("structure", structure)][0] == "changed"
    assert "schema:name" in seen[("structure", structure)][1]
    assert run.stderr.startswith("senacs-kg diff: ")
    assert f"actions {counts[0]} added, {counts[1]} removed, {counts[2]} changed" in run.stderr


def test_a_changed_amount_is_a_change_of_the_actions_budget_line(built, tmp_path):
    first, _, old, _, _ = built
    keys = [e.key for e in first.entries]
    target = next(e for e in first.entries if "TOTAL : " in e.text and keys.count(e.key) == 1)
    amount = target.text.split("TOTAL : ", 1)[1].split("€", 1)[0]
    edited = [e if e is not target else
              type(e)(e.id, e.text.replace(f"TOTAL : {amount}€", f"TOTAL : {amount}1€"), "edited")
              for e in first.entries]
    source = Campaign(edited).write(tmp_path / "senacs-2024.txt")
    new = tmp_path / "edited"
    assert senacs_kg("build", str(source), "--out", str(new)).returncode == 0
    run = run_cli("diff", str(old), str(new))
    iri = action_iris(first, old)[target.id]
    assert printed(run.stdout) == {("action", iri): (
        "changed", {"senacs:budgetLine", "senacs:budgetTotal", "senacs:resourcesText"})}


def test_the_changeset_turns_the_old_release_into_the_new_one(built, tmp_path):
    _, _, old, new, _ = built
    out = tmp_path / "changes"
    run = run_cli("diff", str(old), str(new), "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["added.nt.gz", "removed.nt.gz",
                                                     "summary.ttl"]
    added = gzip.decompress((out / "added.nt.gz").read_bytes()).decode("utf-8").splitlines(True)
    removed = gzip.decompress((out / "removed.nt.gz").read_bytes()).decode("utf-8") \
        .splitlines(True)
    before = dump_text(old).splitlines(True)
    after = dump_text(new).splitlines(True)
    assert added == sorted(set(added)) and removed == sorted(set(removed))
    assert set(removed) <= set(before) and not set(added) & set(before)
    assert sorted((set(before) - set(removed)) | set(added)) == after
    # both parse as N-Triples; gzip without a timestamp; the same bytes on a second run
    for name in ("added.nt.gz", "removed.nt.gz"):
        assert (out / name).read_bytes()[4:8] == b"\0\0\0\0"
        list(ox.parse((out / name).read_bytes() and gzip.decompress((out / name).read_bytes()),
                      format=ox.RdfFormat.N_TRIPLES))
    again = tmp_path / "again"
    run_cli("diff", str(old), str(new), "--out", str(again))
    for name in ("added.nt.gz", "removed.nt.gz", "summary.ttl"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


def test_the_summary_says_the_same_as_the_printed_lines_and_conforms(built, tmp_path):
    _, _, old, new, _ = built
    out = tmp_path / "changes"
    run = run_cli("diff", str(old), str(new), "--out", str(out))
    old_id = json.loads((old / "manifest.json").read_text())["release"]
    new_id = json.loads((new / "manifest.json").read_text())["release"]
    store = ox.Store()
    store.load(path=str(out / "summary.ttl"), format=ox.RdfFormat.TURTLE)
    rows = store.query(f"""
        PREFIX senacs: <{D}> PREFIX dcterms: <http://purl.org/dc/terms/>
        SELECT ?class ?subject (GROUP_CONCAT(STR(?p); separator=" ") AS ?fields) WHERE {{
          ?change a ?class ; dcterms:subject ?subject ; dcterms:isPartOf ?set .
          ?set senacs:fromRelease <{B}release/{old_id}/> ; senacs:toRelease <{B}release/{new_id}/> .
          OPTIONAL {{ ?change senacs:changedProperty ?p }}
        }} GROUP BY ?class ?subject""")
    status = {f"{D}Addition": "added", f"{D}Removal": "removed", f"{D}Modification": "changed"}
    in_graph = {(row["subject"].value, status[row["class"].value],
                 frozenset(row["fields"].value.split() if row["fields"] else ()))
                for row in rows}
    lines = printed(run.stdout)
    assert len(in_graph) == len(lines) > 20
    assert {(iri, s, frozenset(diff.short_name(f, B) for f in fields))
            for iri, s, fields in in_graph} == {(iri, s, frozenset(fields))
                                                 for (_, iri), (s, fields) in lines.items()}
    shapes = Graph().parse(data=diff.summary_shapes(B), format="turtle")
    for engine in ("sparql", "pyshacl"):
        report = shacl.validate(out / "summary.ttl", shapes, engine=engine)
        assert (report.violations, report.warnings) == (0, 0), report.summary


def test_a_release_compared_with_itself_has_no_change(built):
    _, _, old, _, _ = built
    run = run_cli("diff", str(old), str(old))
    assert (run.returncode, run.stdout) == (0, "")
    assert "actions 0 added, 0 removed, 0 changed" in run.stderr and "triples +0 −0" in run.stderr


def _copy(release: Path, to: Path) -> Path:
    shutil.copytree(release, to)
    return to


@pytest.mark.parametrize("damage, message", [
    ("no manifest", "no release here"),
    ("no dump", "no dataset.nt.gz in this release"),
    ("unsorted", "the lines are not sorted"),
    ("cut", "cannot be read after line"),
    ("other base", "different IRI bases"),
    ("not text", "not UTF-8"),
    ("bad date", "is not a date"),
    ("bad iri", "not an IRI"),
])
def test_an_unreadable_release_is_one_line_and_exit_status_2(built, tmp_path, damage, message):
    _, _, old, new, _ = built
    broken = _copy(new, tmp_path / "broken")
    dump, manifest = broken / "dataset.nt.gz", broken / "manifest.json"
    data = gzip.decompress(dump.read_bytes())
    lines = data.decode("utf-8").splitlines(True)
    if damage == "no manifest":
        manifest.unlink()
    elif damage == "no dump":
        dump.unlink()
    elif damage == "unsorted":
        dump.write_bytes(gzip.compress("".join(lines[1000:] + lines[:1000]).encode()))
    elif damage == "cut":
        dump.write_bytes(dump.read_bytes()[:-2000])
    elif damage == "other base":
        data = json.loads(manifest.read_text())
        manifest.write_text(json.dumps({**data, "base": "https://example.org/"}))
    elif damage == "bad date":
        data = json.loads(manifest.read_text())
        manifest.write_text(json.dumps({**data, "release_date": '2025" ; <x:evil> "'}))
    elif damage == "bad iri":
        lines.append(f'<{B}structure/zzz"> <{B}def#x> "y" .\n')
        dump.write_bytes(gzip.compress("".join(sorted(lines)).encode()))
    else:
        dump.write_bytes(gzip.compress(data[:5000] + b"\xff\xfe" + data[5000:]))
    run = senacs_kg("diff", str(old), str(broken), "--out", str(tmp_path / "out"))
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("senacs-kg diff: ")
    assert message in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# -- the summary's shapes catch what they should ----------------------------------------------

CHANGE = f"<{B}release/2025/changes#action/x-31/atelier>"
CHANGESET = f"<{B}release/2025/changes>"
VALID = f"""
{CHANGE} a <{D}Modification> ; <http://purl.org/dc/terms/isPartOf> {CHANGESET} ;
  <http://purl.org/dc/terms/subject> <{B}action/x-31/atelier> ;
  <{D}resourceType> <{D}Action> ; <{D}changedProperty> <{D}perspectives> ;
  <http://www.w3.org/2000/01/rdf-schema#label> "Atelier"@fr .
{CHANGESET} a <{D}Changeset> ; <{D}fromRelease> <{B}release/2024/> ;
  <{D}toRelease> <{B}release/2025/> ;
  <http://www.w3.org/2000/01/rdf-schema#label> "Changements de 2024 à 2025"@fr,
  "Changes from 2024 to 2025"@en ;
  <http://purl.org/dc/terms/issued> "2025-06-01"^^<http://www.w3.org/2001/XMLSchema#date> .
"""
BREAKS = {  # shape -> (what is replaced, by what), focus
    "ChangeShape": ((CHANGE, f"<{B}changes/x>"), f"<{B}changes/x>"),
    "Change-subject": ((f"<{B}action/x-31/atelier>", f"<{B}place/commune/31555>"), CHANGE),
    "Change-changeset": ((f"isPartOf> {CHANGESET}", f"isPartOf> <{B}release/2025/>"), CHANGE),
    "Change-resourceType": ((f"<{D}resourceType> <{D}Action> ;", ""), CHANGE),
    "Change-label": (('"Atelier"@fr', '"Atelier"@fr, "Workshop"@en'), CHANGE),
    "Modification-changedProperty": ((f"<{D}changedProperty> <{D}perspectives> ;", ""), CHANGE),
    "WholeChange-changedProperty": ((f"a <{D}Modification>", f"a <{D}Addition>"), CHANGE),
    "ChangesetShape": ((CHANGESET, f"<{B}release/2025/changeset>"),
                       f"<{B}release/2025/changeset>"),
    "Changeset-from": ((f"<{B}release/2024/>", f"<{B}release/2024/dataset>"), CHANGESET),
    "Changeset-to": ((f"<{D}toRelease> <{B}release/2025/> ;", ""), CHANGESET),
    "Changeset-label": (('"Changes from 2024 to 2025"@en', '"Changes"@de'), CHANGESET),
    "Changeset-issued": (('"2025-06-01"^^<http://www.w3.org/2001/XMLSchema#date>',
                          '"juin 2025"'), CHANGESET),
}


def test_every_summary_shape_has_a_break():
    shapes = Graph().parse(data=diff.summary_shapes(B), format="turtle")
    named = {str(s).rpartition("#")[2] for s in shapes.subjects(RDF.type, SH.PropertyShape)}
    named |= {str(s).rpartition("#")[2] for s in shapes.subjects(SH.pattern, None)
              if (s, RDF.type, SH.NodeShape) in shapes}
    assert named == set(BREAKS)


@pytest.mark.parametrize("shape", sorted(BREAKS))
def test_each_summary_shape_reports_its_break(shape):
    shapes = Graph().parse(data=diff.summary_shapes(B), format="turtle")
    valid = Graph().parse(data=VALID, format="turtle").serialize(format="nt", encoding="utf-8")
    assert not shacl.validate(valid, shapes).results
    (old, new), focus = BREAKS[shape]
    assert old in VALID
    broken = Graph().parse(data=VALID.replace(old, new), format="turtle") \
        .serialize(format="nt", encoding="utf-8")
    for engine in ("sparql", "pyshacl"):
        results = [r for r in shacl.validate(broken, shapes, engine=engine).results
                   if r.shape == f"{B}shapes#{shape}"]
        assert {r.focus for r in results} == {focus}, engine
