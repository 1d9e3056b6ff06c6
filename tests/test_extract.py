"""Structured values read from text: French number formats, and precision/recall on the seed.

The gold file (tests/gold/seed_extractions.json) was annotated by hand from the
seed's text. The evaluation reads the values back from the mapped graph, the
way a researcher's query would see them, and fails under 90% precision or
recall for any extractor.
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from mapping.extract import amounts, budget_total, headcounts, parse_number, start_date_of

GOLD = Path(__file__).parent / "gold" / "seed_extractions.json"
FLOOR = 0.90

PREFIXES = """
PREFIX senacs: <https://w3id.org/senacs-kg/def#>
PREFIX schema: <https://schema.org/>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""


@pytest.mark.parametrize("text, value", [
    ("2 300", Decimal(2300)), ("600,50", Decimal("600.50")), ("1.350", Decimal(1350)),
    ("45,00", Decimal(45)), ("1400", Decimal(1400)), ("2\u202f300", Decimal(2300)),
])
def test_french_numbers(text, value):
    assert parse_number(text) == value


def test_amounts_in_french_formats():
    text = "Location : 2 300 €\nRepas 600,50 €\nBus 1.350 €\ngoûter 45,00€\nIntervenants : 1400 euros"
    assert [(a.line, a.value) for a in amounts(text)] == [
        (0, 2300), (1, Decimal("600.50")), (2, 1350), (3, 45), (4, 1400)]
    assert budget_total(amounts(text), text) == (Decimal("5695.50"), "sum")


def test_stated_total_wins_and_rates_are_no_total():
    text = "Budget total : 850€\n300€ intervention\n400€ intervention"
    assert budget_total(amounts(text), text) == (Decimal(850), "stated")
    rate = "Environ 150€ par session"
    assert budget_total(amounts(rate), rate) is None


def test_headcount_ranges_and_kinds():
    found = headcounts("1 à 2 professionnels\n8 à 15 habitants bénévoles\nprès de 200 habitants")
    assert [(h.kind, h.minimum, h.maximum) for h in found] == [
        ("professionnels", 1, 2), ("bénévoles", 8, 15), ("participants", 200, 200)]


def test_start_date_forms():
    assert start_date_of([("d", "Début de l'action : février 2019")]).iso == "2019-02"
    assert start_date_of([("d", "L'action a démarré en 2018 au sein du CLAS")]).iso == "2018"
    assert start_date_of([("d", "Depuis de nombreuses années… Depuis janvier 2018")]) is None
    assert start_date_of([("d", "Rien de daté ici.")]) is None


# -- evaluation against the gold file ------------------------------------------------------


@pytest.fixture(scope="module")
def gold():
    return json.loads(GOLD.read_text(encoding="utf-8"))["records"]


def _by_record(rows) -> dict[str, Counter]:
    out: dict[str, Counter] = {}
    for row in rows:
        out.setdefault(str(row[0]), Counter())[tuple(row[1:])] += 1
    return out


def _score(name: str, gold: dict[str, Counter], found: dict[str, Counter]) -> tuple[float, float]:
    tp = fp = fn = 0
    for record in set(gold) | set(found):
        want, got = gold.get(record, Counter()), found.get(record, Counter())
        tp += sum((want & got).values())
        fp += sum((got - want).values())
        fn += sum((want - got).values())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(f"{name:<11} precision {precision:6.1%}  recall {recall:6.1%}  (tp {tp}, fp {fp}, fn {fn})")
    return precision, recall


def _extracted(seed_graph) -> dict[str, dict[str, Counter]]:
    """The extracted values of every action, read from the graph by SPARQL."""
    q = seed_graph.query
    amount_rows = q(PREFIXES + """
        SELECT ?first ?line ?value ?total WHERE {
          ?a prov:qualifiedDerivation/senacs:firstLine ?first ; senacs:budgetLine ?m .
          ?m senacs:sourceLine ?line ; schema:value ?value ; senacs:isTotal ?total .
        }""")
    total_rows = q(PREFIXES + """
        SELECT ?first ?value WHERE {
          ?a prov:qualifiedDerivation/senacs:firstLine ?first ; senacs:budgetTotal/schema:value ?value .
        }""")
    count_rows = q(PREFIXES + """
        SELECT ?first ?line ?kind ?min ?max WHERE {
          ?a prov:qualifiedDerivation/senacs:firstLine ?first ; senacs:headcount ?h .
          ?h senacs:sourceLine ?line ; schema:minValue ?min ; schema:maxValue ?max ;
             senacs:personKind/skos:prefLabel ?kind .
          FILTER(lang(?kind) = "fr")
        }""")
    start_rows = q(PREFIXES + """
        SELECT ?first ?date WHERE {
          ?a prov:qualifiedDerivation/senacs:firstLine ?first ; senacs:startDate ?date .
        }""")
    return {
        "amounts": _by_record((r.first, int(r.line), Decimal(r.value.toPython()), r.total.toPython())
                              for r in amount_rows),
        "total": _by_record((r.first, Decimal(r.value.toPython())) for r in total_rows),
        "headcounts": _by_record((r.first, int(r.line), str(r.kind), int(r["min"]), int(r["max"]))
                                 for r in count_rows),
        "start": _by_record((r.first, str(r.date)) for r in start_rows),
    }


def _gold_rows(gold) -> dict[str, dict[str, Counter]]:
    return {
        "amounts": _by_record((first, line, Decimal(value), total)
                              for first, rec in gold.items() for line, value, total in rec["amounts"]),
        "total": _by_record((first, Decimal(rec["total"]))
                            for first, rec in gold.items() if rec["total"] is not None),
        "headcounts": _by_record((first, *row) for first, rec in gold.items()
                                 for row in rec["headcounts"]),
        "start": _by_record((first, rec["start"]) for first, rec in gold.items()
                            if rec["start"] is not None),
    }


def test_gold_covers_every_seed_record(gold, seed_records):
    assert sorted(map(int, gold)) == [r.line for r in seed_records]


@pytest.mark.parametrize("extractor", ["amounts", "total", "headcounts", "start"])
def test_extractor_precision_and_recall_on_the_seed(extractor, gold, seed_graph):
    want = _gold_rows(gold)[extractor]
    got = _extracted(seed_graph)[extractor]
    precision, recall = _score(extractor, want, got)
    assert precision >= FLOOR, f"{extractor}: precision {precision:.1%} under {FLOOR:.0%}"
    assert recall >= FLOOR, f"{extractor}: recall {recall:.1%} under {FLOOR:.0%}"
