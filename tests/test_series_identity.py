"""Stable identity: an action's IRI depends on its structure and title, never on the order of
records; a renamed structure, once declared, keeps its IRI and its actions theirs.

The campaigns are generated (tests/campaigns.py): every record carries an id that follows it
from one campaign to the next, so the expected IRIs come from the rule, not from the code.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from pathlib import Path

import pytest
from campaigns import Campaign, first_campaign, next_campaign, records_by_text

from mapping.identity import Renames, read_renames
from mapping.mapper import Mapper, plan_names
from mapping.reader import ExportFile
from mapping.reference import Reference, ReferenceError
from mapping.release import is_release_id, release_key
from mapping.vocab import DEFAULT_BASE

ACTION = DEFAULT_BASE + "action/"


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference.load()


@pytest.fixture(scope="module")
def campaigns(tmp_path_factory) -> tuple[Campaign, Campaign, Path, Path]:
    folder = tmp_path_factory.mktemp("campaigns")
    first = first_campaign(60)
    second = next_campaign(first)
    return first, second, first.write(folder / "2024.txt"), second.write(folder / "2025.txt")


def names(path: Path, reference: Reference, renames: Path | None = None,
          release_id: str | None = None) -> list[tuple[str, str]]:
    """(record text, action IRI) of every record of an export, named as the build names them."""
    mapper = Mapper(reference=reference,
                    renames=Renames.load(renames, reference, release_id))
    plan_names(mapper, [(path, None)])
    return [(r.render(), mapper.namer(r, mapper.structure_slug(r)))
            for r in ExportFile(path).records()]


def sha1_but_structure(text: str) -> str:
    """The sha1 the rule names: of the record's text without the line after its structure label."""
    lines = text.split("\n")
    at = lines.index("- Structure organisatrice") + 1
    return hashlib.sha1("\n".join(lines[:at] + lines[at + 1:]).encode("utf-8")).hexdigest()


def write_renames(path: Path, *rows: str) -> Path:
    path.write_text("# renames\nold_name,department,new_name,since,source\n"
                    + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


def test_the_generated_campaigns_read_back_as_written(campaigns):
    first, second, first_path, second_path = campaigns
    assert sum(records_by_text(first_path).values()) == len(first.entries) == 64
    assert records_by_text(second_path) == {e.text: 1 for e in second.entries}


def test_the_order_of_records_never_changes_an_iri(campaigns, reference, tmp_path):
    first, _, first_path, _ = campaigns
    expected = sorted(names(first_path, reference))
    twins = [iri for _, iri in expected if iri.rsplit("-", 1)[-1].isalnum()
             and len(iri.rsplit("-", 1)[-1]) == 8]
    assert len(twins) >= 4  # shared keys exist, so order could matter
    for seed in (1, 2, 3):
        entries = list(first.entries)
        random.Random(seed).shuffle(entries)
        path = Campaign(entries).write(tmp_path / f"shuffled-{seed}.txt")
        assert sorted(names(path, reference)) == expected, f"shuffle {seed}"


def test_records_sharing_structure_and_title_the_smallest_sha1_keeps_the_plain_iri(
        campaigns, reference):
    _, _, first_path, _ = campaigns
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for text, iri in names(first_path, reference):
        sha1 = sha1_but_structure(text)
        plain = iri[:-9] if iri.endswith("-" + sha1[:8]) else iri
        groups[plain].append((sha1, iri))
    shared = {plain: members for plain, members in groups.items() if len(members) > 1}
    assert len(shared) >= 4
    for plain, members in shared.items():
        members.sort()
        assert members[0][1] == plain
        assert [iri for _, iri in members[1:]] == [f"{plain}-{sha1[:8]}" for sha1, _ in members[1:]]


def test_identical_records_are_numbered_after_their_suffix(campaigns, reference, tmp_path):
    first, _, _, _ = campaigns
    copy = first.entries[0]
    path = Campaign([copy, *first.entries, copy, copy]).write(tmp_path / "copies.txt")
    found = [iri for text, iri in names(path, reference) if text == copy.text]
    digest = sha1_but_structure(copy.text)[:8]
    plain = next(iri for t, iri in names(campaigns[2], reference) if t == copy.text)
    if not plain.endswith(digest):  # the copied record held the plain IRI of its key
        assert sorted(found) == [plain, f"{plain}-{digest}", f"{plain}-{digest}-2",
                                 f"{plain}-{digest}-3"]
    else:
        assert sorted(found) == [plain, f"{plain}-2", f"{plain}-3", f"{plain}-4"]


def test_across_campaigns_kept_edited_and_renamed_records_keep_their_iris(campaigns, reference,
                                                                           tmp_path):
    first, second, first_path, second_path = campaigns
    old, new = second.renamed
    renames = write_renames(tmp_path / "renames.csv",
                            f"{old},Haute-Garonne,{new},2025,a test's own declaration")
    before = dict(zip((e.id for e in first.entries),
                      (iri for _, iri in names(first_path, reference, renames, "2024"))))
    after = dict(zip((e.id for e in second.entries),
                     (iri for _, iri in names(second_path, reference, renames, "2025"))))
    fates = {e.id: e.fate for e in second.entries}
    assert {"kept", "edited", "renamed", "twin", "added"} <= set(fates.values())
    for id_, iri in after.items():
        if fates[id_] == "added":
            assert iri not in before.values(), iri
        else:
            assert iri == before[id_], (fates[id_], iri, before[id_])
    removed = {before[e.id] for e in second.removed}
    assert len(removed) == 5 and removed.isdisjoint(after.values())


def test_an_undeclared_rename_gives_the_structure_and_its_actions_new_iris(campaigns, reference):
    first, second, first_path, second_path = campaigns
    before = dict(zip((e.id for e in first.entries), (i for _, i in names(first_path, reference))))
    after = dict(zip((e.id for e in second.entries), (i for _, i in names(second_path, reference))))
    renamed = [e.id for e in second.entries if e.fate == "renamed"]
    assert len(renamed) >= 2
    for id_ in renamed:
        assert after[id_] != before[id_]
        assert "-espace-des-familles-31/" in after[id_]


def test_a_rename_applies_from_its_release_on(campaigns, reference, tmp_path):
    _, second, _, second_path = campaigns
    old, new = second.renamed
    renames = write_renames(tmp_path / "renames.csv", f"{old},Haute-Garonne,{new},2026,a test")
    for release_id, kept in (("2025", False), ("2025-3", False), ("2026", True), ("2027", True),
                             (None, True)):
        iris = [iri for text, iri in names(second_path, reference, renames, release_id)
                if f"- {new} - " in text]
        assert iris and all(("-espace-des-familles-31/" not in i) == kept for i in iris), release_id


def test_a_chain_of_renames_goes_back_to_the_first_name(reference, tmp_path):
    renames = write_renames(tmp_path / "renames.csv",
                            "Centre social A,Haute-Garonne,Centre social B,2025,letter 1",
                            "Centre social B,Haute-Garonne,Centre social C,2027,letter 2")
    rows = read_renames(renames, reference)
    assert Renames(rows, "2027")("centre-social-c-31") == "centre-social-a-31"
    assert Renames(rows, "2027")("centre-social-b-31") == "centre-social-a-31"
    assert Renames(rows, "2026")("centre-social-c-31") == "centre-social-c-31"
    assert Renames(rows, "2026")("centre-social-b-31") == "centre-social-a-31"
    assert Renames(rows, None)("centre-social-a-31") == "centre-social-a-31"


@pytest.mark.parametrize("row, message", [
    ("A,Gaule,B,2025,x", "'Gaule' is not a department"),
    ("A,Haute-Garonne,B,25,x", "since '25' is not a release id"),
    ("A,Haute-Garonne,B,2025-01,x", "since '2025-01' is not a release id"),
    ("A,Haute-Garonne,B,2025,", "source must not be empty"),
])
def test_a_bad_renames_row_is_refused_in_one_line(reference, tmp_path, row, message):
    renames = write_renames(tmp_path / "renames.csv", row)
    with pytest.raises(ReferenceError, match=message):
        read_renames(renames, reference)


def test_renames_that_loop_or_merge_two_structures_are_refused(reference, tmp_path):
    loop = write_renames(tmp_path / "loop.csv", "A,Haute-Garonne,B,2025,x",
                         "B,Haute-Garonne,A,2026,y")
    with pytest.raises(ReferenceError, match="circle"):
        Renames(read_renames(loop, reference), None)
    merge = write_renames(tmp_path / "merge.csv", "A,Haute-Garonne,C,2025,x",
                          "B,Haute-Garonne,C,2025,y")
    with pytest.raises(ReferenceError, match="new name of two structures"):
        Renames(read_renames(merge, reference), None)


def test_release_ids_sort_by_year_then_number():
    ids = ["2025-10", "2024", "2025-2", "2025"]
    assert sorted(ids, key=release_key) == ["2024", "2025", "2025-2", "2025-10"]
    assert all(map(is_release_id, ids))
    assert not any(map(is_release_id, ["25", "2025-", "2025-0", "2025/2", "../2025", "2025\n"]))


def test_the_committed_renames_file_reads(reference):
    assert read_renames(Path(__file__).parents[1] / "data/reference/overrides/renames.csv",
                        reference) == []


def test_a_renamed_structure_named_both_ways_in_one_build_is_refused(campaigns, reference,
                                                                       tmp_path):
    _, second, _, _ = campaigns
    old, new = second.renamed
    renames = write_renames(tmp_path / "renames.csv", f"{old},Haute-Garonne,{new},2025,a test")
    renamed = next(e for e in second.entries if e.fate == "renamed")
    lines = renamed.text.replace(f"- {new} - ", f"- {old} - ").split("\n")
    stale = "\n".join([lines[0], lines[1] + " (bis)", *lines[2:]])
    path = Campaign([*second.entries, type(renamed)(999, stale)]).write(tmp_path / "both.txt")
    with pytest.raises(ReferenceError, match=f"name the structure .*{old!r} and {new!r}"):
        names(path, reference, renames, "2025")
    assert names(path, reference, renames, "2024")  # before the rename: two structures
