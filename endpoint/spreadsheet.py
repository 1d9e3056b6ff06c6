"""Files offered to spreadsheets: no cell can be read as a formula (CSV injection).

A spreadsheet (Excel, LibreOffice, Google Sheets) opening a CSV reads a cell that starts with
``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) as a formula, so a value from the
data or from a query, such as ``=HYPERLINK("http://…")``, would act in the reader's spreadsheet.
The downloads the site offers to be opened there put a ``'`` before such a cell (spreadsheets
show the rest as text). A plain number (``-3``, ``+1.5e3``) is no formula and is left alone.

Which downloads: the query page's CSV and TSV links (``/sparql?…&format=csv&download=spreadsheet``)
and the network page's CSV links (``/network/NAME.csv?download=spreadsheet``). The SPARQL CSV
and TSV negotiated by ``Accept`` or ``format`` alone stay exactly as the SPARQL 1.1 standard
says, and the release's files stay byte for byte what its manifest lists: programs read those.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from flask import Response, request

from endpoint.conneg import SPREADSHEETS, file_type
from endpoint.errors import ProtocolError
from endpoint.results import cell_text

PARAMETER, VALUE = "download", "spreadsheet"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(cell: str) -> str:
    """The cell, with a ``'`` in front if a spreadsheet would read it as a formula."""
    if cell.startswith(FORMULA_START) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def wanted(value: str | None, kind: str, media: str) -> bool:
    """Whether ``download=spreadsheet`` was asked, and can be given, for this answer."""
    if value is None:
        return False
    if value != VALUE:
        raise ProtocolError(400, f"download={value!r}: the only value is {VALUE!r}")
    if kind != "select" or media not in SPREADSHEETS:
        raise ProtocolError(400, "download=spreadsheet gives SELECT results as CSV or TSV: "
                                 "add format=csv or format=tsv")
    return True


def disposition(name: str) -> str:
    return f'attachment; filename="{name}"'


def _write(rows, delimiter: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return out.getvalue().encode("utf-8")


def _cell(term: dict | None) -> str:
    """A result term as the SPARQL CSV format writes it (results.cell_text); unbound: empty."""
    return "" if term is None else cell_text(term)


def results(payload: bytes, media: str) -> bytes:
    """SELECT results (SPARQL JSON) as a spreadsheet's CSV or tab-separated file: a header of
    variable names, then one row per solution, every cell neutralised."""
    data = json.loads(payload)
    names = data["head"].get("vars", [])
    rows = [names, *([_cell(b.get(n)) for n in names] for b in data["results"]["bindings"])]
    return _write(rows, SPREADSHEETS[media].delimiter)


def csv_file(path: Path, etag: str) -> Response:
    """A release's CSV file with every cell neutralised, as an attachment (the file itself is
    left as the manifest lists it)."""
    with path.open(encoding="utf-8", newline="") as handle:
        body = _write(csv.reader(handle), SPREADSHEETS["text/csv"].delimiter)
    response = Response(body, mimetype=file_type(path.suffix))  # with its charset
    response.headers["Content-Disposition"] = disposition(path.name)
    response.set_etag(etag + "-" + VALUE)
    return response.make_conditional(request)
