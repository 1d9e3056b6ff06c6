"""The reader on the real seed, on generated exports, and on every kind of bad input."""

from __future__ import annotations

import codecs

import pytest
from conftest import read_text, render_file

from mapping.labels import FIELDS
from mapping.reader import ExportFile

# -- the seed: 25 real Haute-Garonne records ------------------------------------------


def test_seed_has_25_clean_records(seed_export):
    export, records = seed_export
    assert len(records) == 25
    assert export.preamble == ["Les actions des centres sociaux"]
    assert export.problems == []
    assert [p for r in records for p in r.problems] == []


def test_seed_renders_back_byte_for_byte(seed_export, seed_text):
    export, records = seed_export
    assert render_file(export, records) == seed_text
    assert not export.final_newline  # the seed ends without a newline, and so does the render


def test_each_seed_record_renders_its_own_source_lines(seed_records, seed_text):
    lines = seed_text.split("\n")
    for record in seed_records:
        assert record.render() == "\n".join(lines[record.line - 1:record.end_line])


def test_seed_record_line_numbers(seed_records):
    assert [r.line for r in seed_records[:3]] == [2, 90, 149]
    first = seed_records[0]
    assert first.field("structure").line == 4
    assert first.field("status").line == 7
    assert dict(first.field("summary").numbered_values())[17].startswith("Il s’agit de proposer")
    assert seed_records[-1].end_line == 1466


def test_first_seed_record_typed_values(seed_records):
    r = seed_records[0]
    assert r.title == '"Bien ensemble Sous les Tilleuls", les cafés des rencontres'
    assert r.structure_name == "SOUS LES TILLEULS"
    assert r.department == "Haute-Garonne"
    assert r.status == "Terminée"
    assert r.end_reason == "Période de crise sanitaire."
    assert r.dimension == "Citoyenneté"
    assert r.keywords == ["intergénérationnel"]
    assert r.initiators == ["Un groupe d'habitants"]
    assert r.territory_scale == "Plusieurs communes"
    assert r.public == "Tous publics"
    assert r.partner_categories == ["Association locale", "Caf", "Commune", "Conseil départemental"]
    assert r.partner_groups[0] == ("Partenaires d'action", "Association locale")
    assert r.attached_files == []
    assert r.text("resources").endswith("200€TOTAL : 1550€")
    assert r.text("people") == "6 professionnels\n15 bénévoles"
    assert r.precision == ""


def test_structure_names_keep_their_own_dashes(seed_records):
    names = {r.structure_name for r in seed_records}
    assert "Maison des Habitants La Salvetat Saint Gilles - Fontenilles" in names
    assert "CAFE DES GRANGES - CENTRE SOCIAL DE SAINT-JEAN" in names
    assert {r.department for r in seed_records} == {"Haute-Garonne"}


def test_optional_fields(seed_records):
    # Records 3 and 15 have no "Fichier(s) associé(s)" label; three have a "Précision".
    assert seed_records[2].field("files") is None
    assert seed_records[3].field("files") is not None
    assert seed_records[9].precision.startswith("Les differents thèmes")
    assert sum(bool(r.precision) for r in seed_records) == 3
    assert sum(r.status == "Terminée" for r in seed_records) == 7
    assert all(bool(r.end_reason) == (r.status == "Terminée") for r in seed_records)
    assert seed_records[5].initiators == ["Le centre social", "Un ou plusieurs partenaire(s)"]
    assert seed_records[23].keywords == []


def test_free_text_lines_starting_with_a_dash_stay_text(seed_records):
    r = seed_records[1]  # its "Description générale" holds "- les repas-débat …" and "-" lines
    description = r.text("description")
    assert "\n- les repas-débat à Partage Faourette." in description
    assert "\n-\n8 Diagnostics en marchant" in description


def test_seed_reads_the_same_in_tiny_blocks(seed_path, seed_records):
    """Block boundaries fall everywhere: inside lines, labels, record starts, characters."""
    for size in (1, 7, 64, 1000):
        export = ExportFile(seed_path, block_size=size)
        records = list(export.records())
        assert [r.source_lines for r in records] == [r.source_lines for r in seed_records]
        assert [r.line for r in records] == [r.line for r in seed_records]


# -- 10,000 generated records ----------------------------------------------------------


def test_ten_thousand_generated_records_round_trip(generated_10k):
    export = ExportFile(generated_10k)
    records = list(export.records())
    assert len(records) == 10_000
    assert [str(p) for r in records for p in r.problems] == []
    assert render_file(export, records) == generated_10k.read_text(encoding="utf-8")
    assert {r.status for r in records} == {"En cours", "Terminée"}
    assert all(r.structure_name and r.department == "Haute-Garonne" for r in records)


# -- look-alikes: labels and record starts inside free text ---------------------------


def _seed_with(seed_text: str, old: str, new: str) -> str:
    assert old in seed_text
    return seed_text.replace(old, new, 1)


def test_label_lookalikes_in_free_text_are_text(seed_text, tmp_path):
    # "Résumé" of record 1 gets lines that read exactly like labels the order does not allow next.
    text = _seed_with(seed_text, "Il s’agit de proposer",
                      "- Public\n- Dimension\n- Territoire concerné\nActions\nIl s’agit de proposer")
    export, records, problems = read_text(text, tmp_path)
    assert problems == []
    assert len(records) == 25
    r = records[0]
    assert r.text("summary").startswith("- Public\n- Dimension\n- Territoire concerné\nActions\n")
    assert r.public == "Tous publics" and r.dimension == "Citoyenneté"
    assert render_file(export, records) == text


def test_actions_then_title_without_structure_label_is_not_a_record(seed_text, tmp_path):
    text = _seed_with(seed_text, "Rencontres motivantes pour les projets",
                      "Actions\nun titre ?\nRencontres motivantes pour les projets")
    _, records, problems = read_text(text, tmp_path)
    assert problems == [] and len(records) == 25
    assert "Actions\nun titre ?\n" in records[0].text("result_centre")


# -- boilerplate, truncation ----------------------------------------------------------


def test_boilerplate_before_first_record_is_skipped_and_reported(seed_text, tmp_path):
    boiler = "Accueil\nActions\nStructures\nMentions légales\n"
    export, records, problems = read_text(boiler + seed_text, tmp_path, "saved.txt")
    assert len(records) == 25
    assert export.preamble[:4] == ["Accueil", "Actions", "Structures", "Mentions légales"]
    assert problems == [f"{tmp_path / 'saved.txt'}:1: warning: skipped 5 lines of boilerplate "
                        "before the first record (lines 1-5)"]
    assert records[0].line == 6
    assert render_file(export, records) == boiler + seed_text


def test_truncated_last_record_is_reported_not_dropped(seed_text, tmp_path):
    cut = seed_text[:seed_text.rindex("- Résultat pour les habitants")] + "Ateliers co"
    export, records, problems = read_text(cut, tmp_path, "cut.txt")
    assert len(records) == 25
    last = records[-1]
    assert not last.ok and all(r.ok for r in records[:-1])
    assert len(problems) == 1
    assert problems[0].startswith(f"{tmp_path / 'cut.txt'}:{last.end_line}: truncated record: "
                                  f"the file ends inside the record that starts at line 1422")
    assert "'- Résultat pour les habitants'" in problems[0]
    assert render_file(export, records) == cut


@pytest.mark.parametrize("tail", ["\nActions", "\nActions\nUn titre coupé", "\nActions\n"])
def test_record_cut_off_in_its_first_lines(seed_text, tmp_path, tail):
    export, records, problems = read_text(seed_text + tail, tmp_path)
    assert len(records) == 26
    assert records[-1].line == 1467
    assert len(problems) == 1 and "truncated record" in problems[0]
    assert render_file(export, records) == seed_text + tail


def test_empty_and_recordless_files(tmp_path):
    _, records, problems = read_text("", tmp_path, "empty.txt")
    assert records == []
    assert problems == [f"{tmp_path / 'empty.txt'}:1: no record found: expected a line 'Actions', "
                        "a title line and '- Structure organisatrice'"]
    _, records, problems = read_text("<html>\nnothing here\n", tmp_path, "page.txt")
    assert records == [] and len(problems) == 2  # the boilerplate warning and "no record found"


# -- malformed records: every problem, with FILE:LINE --------------------------------


def test_unknown_label_where_one_is_required(seed_text, tmp_path):
    # Record 3 (line 149) has no end reason: its status value must be followed by a label.
    text = _seed_with(seed_text, "- En cours\n- Dimension\n- Accompagnement",
                      "- En cours\n- Dimensoin\n- Accompagnement")
    export, records, problems = read_text(text, tmp_path, "typo.txt")
    assert len(records) == 25
    name = tmp_path / "typo.txt"
    assert problems == [
        f"{name}:155: unknown label '- Dimensoin' where '- Dimension' is required (a typo?)",
        f"{name}:156: expected a label, found '- Accompagnement de projets'",
    ]
    assert records[2].render() == "\n".join(text.split("\n")[148:220])
    assert render_file(export, records) == text


def test_label_typo_after_free_text_is_named(seed_text, tmp_path):
    # In record 1 the line before is free text (the end reason): the typo reads as text.
    text = _seed_with(seed_text, "- Dimension\n- Citoyenneté", "- Dimensoin\n- Citoyenneté")
    _, records, problems = read_text(text, tmp_path, "typo.txt")
    assert problems == [
        f"{tmp_path / 'typo.txt'}:11: unknown label '- Dimensoin' where '- Dimension' "
        "is required (a typo?)"]
    assert records[0].end_reason == "Période de crise sanitaire.\n- Dimensoin\n- Citoyenneté"


def test_missing_required_label(seed_text, tmp_path):
    text = _seed_with(seed_text, "- Résumé\nIl s’agit", "Il s’agit")
    _, records, problems = read_text(text, tmp_path, "missing.txt")
    assert len(records) == 25
    name = tmp_path / "missing.txt"
    # the three summary lines now follow the keyword list: each is reported, in line order
    assert [p.split(": ")[0] for p in problems] == [f"{name}:{n}" for n in (16, 17, 18, 19)]
    assert "expected a list item '- …', found 'Il s’agit de proposer" in problems[0]
    assert problems[3] == (f"{name}:19: missing label '- Résumé': expected it "
                           "before \"- Qui est à l'initiative de l'action ?\"")
    # the summary text is not lost: it stays with the keywords block it now follows
    assert "Il s’agit de proposer" in records[0].field("keywords").text


def test_every_problem_of_a_file_is_reported(seed_text, tmp_path):
    text = _seed_with(seed_text, "- SOUS LES TILLEULS - Haute-Garonne", "- SOUS LES TILLEULS")
    text = _seed_with(text, "- Statut de l'action\n- En cours", "- Statut de l'action\nEn cours")
    text = _seed_with(text, "-\n- Le centre social\n- Territoire", "- Le centre social\n- Territoire")
    _, records, problems = read_text(text, tmp_path, "many.txt")
    name = tmp_path / "many.txt"
    assert problems == [
        f"{name}:5: expected 'NAME - Département' as the structure, found '- SOUS LES TILLEULS'",
        f"{name}:107: expected the list opener '-' after \"- Qui est à l'initiative de "
        "l'action ?\", found '- Le centre social'",
        f"{name}:153: expected a value line '- …' for \"- Statut de l'action\", found 'En cours'",
    ]
    assert len(records) == 25


def test_differing_territories_are_a_warning(seed_text, tmp_path):
    first = seed_text.index("- Plusieurs communes")
    second = seed_text.index("- Plusieurs communes", first + 1)
    text = seed_text[:second] + "- Une commune" + seed_text[second + len("- Plusieurs communes"):]
    _, records, problems = read_text(text, tmp_path, "terr.txt")
    assert problems == [f"{tmp_path / 'terr.txt'}:43: warning: the second 'Territoire concerné' "
                        "says ['- Une commune'] but the first says ['- Plusieurs communes'] "
                        "(line 23)"]
    assert records[0].ok and records[0].territory_scale == "Plusieurs communes"


def test_empty_title_is_reported(seed_text, tmp_path):
    text = _seed_with(seed_text, "diagnostic territorial partagé\n", "\n")
    _, _, problems = read_text(text, tmp_path, "t.txt")
    assert problems == [f"{tmp_path / 't.txt'}:91: expected the action's title, found an empty line"]


# -- encodings and line endings -------------------------------------------------------


def test_bom_and_crlf_are_normalised(seed_text, seed_records, tmp_path):
    path = tmp_path / "windows.txt"
    path.write_bytes(codecs.BOM_UTF8 + seed_text.replace("\n", "\r\n").encode("utf-8"))
    for size in (5, 1 << 16):  # a CRLF split between two blocks is still one line ending
        export = ExportFile(path, block_size=size)
        records = list(export.records())
        assert [r.source_lines for r in records] == [r.source_lines for r in seed_records]
        assert export.decode.had_bom and export.decode.crlf_lines == 1465
        assert render_file(export, records) == seed_text


def test_windows_1252_is_refused_with_offset_and_guess(seed_text, tmp_path):
    path = tmp_path / "latin.txt"
    data = seed_text.encode("cp1252", errors="replace")
    path.write_bytes(data)
    export = ExportFile(path)
    records = list(export.records())
    bad = next(i for i, b in enumerate(data) if b >= 0x80)
    line = data[:bad].count(b"\n") + 1
    assert records == []
    assert [str(p) for p in export.problems] == [
        f"{path}:{line}: not valid UTF-8: byte 0x{data[bad]:02X} at byte offset {bad}; the file "
        "looks like Windows-1252 (Latin-1 family): convert it to UTF-8 or pass --encoding cp1252"]
    # ... and read when the user names the encoding
    named = ExportFile(path, encoding="cp1252")
    assert len(list(named.records())) == 25 and named.problems == []


def test_utf16_is_refused(seed_text, tmp_path):
    path = tmp_path / "utf16.txt"
    path.write_bytes(seed_text.encode("utf-16"))
    export = ExportFile(path)
    assert list(export.records()) == []
    assert "file is UTF-16 (little-endian), not UTF-8" in str(export.problems[0])
    named = ExportFile(path, encoding="utf-16")
    records = list(named.records())
    assert len(records) == 25 and render_file(named, records) == seed_text


def test_every_field_is_in_the_form_table(seed_records):
    keys = [f.key for r in seed_records for f in r.fields]
    assert set(keys) == {spec.key for spec in FIELDS}
