"""The ontology's HTML documentation, made with pyLODE when a release is built, one page per language.

pyLODE prints every ``rdfs:label`` of a term side by side ("ActionAction"), so each page is made
from the ontology with only that language's texts (untagged literals are kept in both). The pages
are written into the release (``release.ontology_doc_page(lang)``) and served at the ontology's
namespace IRI, ``/def``, by language.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from rdflib import Graph, Literal

# Added to pyLODE's page: its language, and a way to the other language, the RDF and the site.
NAV = {"fr": ('<nav class="senacs-kg"><a href="/">senacs-kg</a> · <a href="/def?lang=en" hreflang="en" '
              'lang="en">English</a> · Turtle et JSON-LD par <code>Accept</code> : '
              '<a href="/def?format=text/turtle">Turtle</a></nav>'),
       "en": ('<nav class="senacs-kg"><a href="/">senacs-kg</a> · <a href="/def?lang=fr" hreflang="fr" '
              'lang="fr">Français</a> · Turtle and JSON-LD by <code>Accept</code>: '
              '<a href="/def?format=text/turtle">Turtle</a></nav>')}


@contextmanager
def _logging_untouched() -> Iterator[None]:
    """pyLODE sets the root logger to DEBUG with a handler when imported, and logs through it:
    its INFO and DEBUG lines are not shown, and what it did to the root logger is undone, so a
    build's output stays its own."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    disabled = logging.root.manager.disable
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(disabled)
        root.setLevel(level)
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)


def document(ontology_turtle: str, base: str, lang: str) -> str:
    """pyLODE's documentation (OntPub profile) of the ontology, in one language."""
    graph = Graph().parse(data=ontology_turtle, format="turtle")
    for s, p, o in list(graph):
        if isinstance(o, Literal) and o.language and o.language != lang:
            graph.remove((s, p, o))
    graph.bind("senacs-kg", base)
    with _logging_untouched():
        from pylode import OntPub  # imported here: it loads background ontologies on import

        html = OntPub(ontology=graph).make_html(include_css=True)
    if html.count("<html>") != 1 or html.count("<body>") != 1:
        raise RuntimeError("pyLODE's page has changed shape: expected one <html> and one <body>")
    return html.replace("<html>", f'<html lang="{lang}">').replace("<body>", "<body>\n" + NAV[lang])
