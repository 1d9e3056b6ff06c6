"""Structures placed from their names, across France: never a wrong commune."""

from __future__ import annotations

from collections import Counter

import pytest
from national import Places, cases

from mapping.places import Placement, Unplaced
from mapping.reference import Reference


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference.load()


@pytest.fixture(scope="module")
def national() -> list:
    return cases(Places())


def test_no_structure_of_the_national_export_is_placed_in_a_wrong_commune(reference, national):
    wrong, missed = [], Counter()
    for case in national:
        placement = reference.gazetteer.place(case.structure, case.department_code)
        got = placement.communes if isinstance(placement, Placement) else ()
        if got and got != (case.expected,):
            wrong.append((case, placement))
        elif case.expected is not None and not got:
            missed[case.form] += 1
    placeable = sum(c.expected is not None for c in national)
    print(f"\n{len(national)} structures in {len({c.department_code for c in national})} "
          f"departments; recall {1 - sum(missed.values()) / placeable:.1%} of {placeable} "
          f"placeable; missed by form: {dict(missed)}")
    assert wrong == []  # precision 100 %
    assert len({c.department_code for c in national}) >= 101  # every department, overseas too
    assert sum(missed.values()) <= placeable * 0.02


@pytest.mark.parametrize("name, department, commune", [
    ("CENTRE SOCIAL DE PLAISANCE DU TOUCH", "31", "31424"),
    ("Maison des habitants de L'Union", "31", "31561"),
    ("CENTRE SOCIAL DE L UNION", "31", "31561"),
    ("CENTRE SOCIAL DE LA ROCHELLE", "17", "17300"),
    ("CENTRE SOCIAL DU HAVRE", "76", "76351"),
    ("CENTRE SOCIAL DE ST ORENS DE GAMEVILLE", "31", "31506"),
    ("CAFE DES GRANGES - CENTRE SOCIAL DE SAINT-JEAN", "31", "31488"),
    ("CENTRE SOCIAL ESCALQUENS", "31", "31169"),
    ("CENTRE SOCIAL DE BELLEGARDE SUR VALSERINE", "01", "01033"),  # delegated commune
])
def test_a_name_ending_with_a_commune_places_the_structure(reference, name, department, commune):
    placement = reference.gazetteer.place(name, department)
    assert isinstance(placement, Placement) and placement.communes == (commune,), placement
    assert placement.method == "name" and commune in placement.evidence


@pytest.mark.parametrize("name, department, why", [
    ("LA MOSAÏQUE", "93", "no commune"),  # "LA MOSAÏQUE - Seine-Saint-Denis" is not Saint-Denis
    ("ESPACE MOSAIQUE - CENTRE SOCIAL DU VIVIER CUGNAUX", "31", "no commune"),
    ("CENTRE SOCIAL DE BALMA - MAISON DE CUGNAUX", "31", "several communes"),
    ("CENTRE SOCIAL DU PORT", "974", "common noun"),
    ("CENTRE SOCIAL DE TOULOUSE", "32", "no commune"),  # Toulouse is in 31, not in the Gers
])
def test_a_name_that_shows_no_single_commune_leaves_the_structure_unplaced(
        reference, name, department, why):
    placement = reference.gazetteer.place(name, department)
    assert isinstance(placement, Unplaced) and why in placement.reason


def test_a_curated_override_wins_over_the_name(reference):
    placement = reference.placement("ESPACE MOSAIQUE - CENTRE SOCIAL DU VIVIER CUGNAUX",
                                    "Haute-Garonne")
    assert placement.method == "override" and placement.communes == ("31157",)
    both = reference.placement("Maison des Habitants La Salvetat Saint Gilles - Fontenilles",
                               "HAUTE GARONNE")
    assert both.communes == ("31526", "31188")
