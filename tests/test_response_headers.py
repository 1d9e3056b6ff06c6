"""Each response carries every header once, as a client reads it off the wire, under the
development server, granian and gunicorn: a ``Date`` written by the application and another by
the server is two clocks' answer to one question (and a replayed response's would be stale).
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import pytest
from conftest import free_port, start_granian, start_gunicorn, start_server, stop

SELECT = quote("SELECT (1 AS ?one) {}")
# one of each kind of response: JSON from a view, a conditional answer (ETag), a release file,
# a page, an RDF description, an error, and the same query again (replayed from the cache)
PATHS = ["/healthz", f"/sparql?query={SELECT}", "/dumps/dataset.nt", "/", "/catalog",
         "/no/such/route", f"/sparql?query={SELECT}"]
SERVERS = {
    "dev": lambda release, store, port: start_server(release, store, port),
    "granian": lambda release, store, port: start_granian(release, store, port, workers=1),
    "gunicorn": lambda release, store, port: start_gunicorn(release, store, port, workers=1,
                                                            threads=2),
}


@pytest.fixture(scope="module", params=list(SERVERS))
def server(request, release_dir, tmp_path_factory):
    port = free_port()
    proc = SERVERS[request.param](release_dir, tmp_path_factory.mktemp("headers") / "store",
                                  port)
    yield f"127.0.0.1:{port}"
    stop(proc)


def raw_headers(address: str, path: str, *lines: str) -> tuple[int, list[tuple[str, str]]]:
    """The status and every header line of a GET (with the given request header ``lines``), as
    the server wrote them: no client merges repeated headers here."""
    host, port = address.split(":")
    extra = "".join(line + "\r\n" for line in lines)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {address}\r\n{extra}Connection: close\r\n\r\n"
                     .encode())
        received = b""
        while b"\r\n\r\n" not in received and (chunk := sock.recv(65536)):
            received += chunk
    head = received.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    fields = [line.split(":", 1) for line in head[1:]]
    return int(head[0].split()[1]), [(name.strip().lower(), value.strip()) for name, value in fields]


def dates(fields: list[tuple[str, str]]) -> list[str]:
    return [value for name, value in fields if name == "date"]


def test_every_response_has_exactly_one_date_header(server):
    for path in PATHS:
        status, fields = raw_headers(server, path)
        assert len(dates(fields)) == 1, (path, status, dates(fields))
        # an HTTP-date a client can read (RFC 9110: IMF-fixdate)
        assert parsedate_to_datetime(dates(fields)[0]).tzinfo is not None, dates(fields)
    etag = dict(raw_headers(server, "/dumps/dataset.nt")[1])["etag"]
    status, fields = raw_headers(server, "/dumps/dataset.nt", f"If-None-Match: {etag}")
    assert (status, len(dates(fields))) == (304, 1), fields


def test_a_replayed_response_is_dated_when_it_is_sent(server):
    path = "/sparql?query=" + quote("ASK { ?s ?p ?o }")
    first = dict(raw_headers(server, path)[1])
    time.sleep(1.1)
    again = dict(raw_headers(server, path)[1])
    assert again["x-cache"] == "hit" and int(again["age"]) >= 1
    # the date of this response, its Age saying how old its content is (as from an HTTP cache)
    assert parsedate_to_datetime(again["date"]) > parsedate_to_datetime(first["date"])


def test_no_header_is_written_twice(server):
    for path in PATHS:
        status, fields = raw_headers(server, path)
        counts = Counter(name for name, _ in fields)
        assert [name for name, n in counts.items() if n > 1] == [], (path, status, fields)
