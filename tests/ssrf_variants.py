"""Generated SERVICE variants: every place a name, string, comment, escape or IRI can carry the
keyword or hide what follows it, each aimed at a loopback listener that must never be reached.

Used by tests/test_guard.py (the guard against the engine itself) and tests/test_security.py
(a live production server).
"""

from __future__ import annotations

import itertools
import socket
import threading

MARKER = "senacs-kg-ssrf-marker"  # what the listener answers: it must never reach a client


class Listener:
    """A loopback TCP listener that counts connections and answers a SPARQL result with MARKER."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections: list[tuple] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        body = ('{"head":{"vars":["m"]},"results":{"bindings":[{"m":{"type":"literal","value":"'
                + MARKER + '"}}]}}').encode()
        reply = (b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
                 + body)
        while not self._stop.is_set():
            try:
                conn, address = self.sock.accept()
            except OSError:
                continue
            self.connections.append(address)
            try:
                conn.settimeout(1)
                conn.recv(65536)
                conn.sendall(reply)
            except OSError:
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def targets(port: int) -> list[str]:
    """IRIs that all mean this machine's listener, written every way an attacker would."""
    return [f"<http://{host}:{port}/sparql>" for host in (
        "127.0.0.1", "localhost", "2130706433", "0x7f000001", "127.1", "[::1]", "0177.0.0.1",
        "[::ffff:127.0.0.1]")] + [
        f"<https://127.0.0.1:{port}/>", f"<http://127.0.0.1:{port}\\u002Fsparql>",
        f"<\\u0068ttp://127.0.0.1:{port}/>"]


KEYWORDS = ["SERVICE", "service", "SeRvIcE", "SERVICE SILENT", "service silent",
            "\\u0053ERVICE", "\\U00000053ERVICE", "SERVIC\\u0045", "SERVICE\tSILENT",
            "SERVICE\r\n", "SERVICE\f"]

# Texts placed before the SERVICE: if a reader takes one for an unfinished string, comment or
# IRI, it skips the SERVICE that the engine then executes. Each is valid SPARQL on its own
# (a BIND of a term) or a comment; {x} is a fresh variable name.
HIDERS = [
    "BIND(ex:a\\'b AS ?{x})", "BIND(ex:a\\#b AS ?{x})",
    "BIND(ex:a\\'\\' AS ?{x})", "BIND(ex:a%27b AS ?{x})", "BIND(ex:\\' AS ?{x})",
    "BIND(ex:a\\~\\.\\-\\!\\$\\&\\(\\)\\*\\+\\,\\;\\=\\/\\?\\@ AS ?{x})",
    "BIND(ex:a\\, AS ?{x})", "BIND(ex:a\\( AS ?{x})", "BIND(ex:a\\? AS ?{x})",
    "BIND(ex:a\\@b AS ?{x})", "# a comment\r\n", "BIND(STR(\"\\'\") AS ?{x})",
    "BIND(\"a\\\"b'\" AS ?{x})", "BIND('a\\'b\"' AS ?{x})", "BIND(\"\"\"a\"\"b'\"\"\" AS ?{x})",
    "BIND('''a''b\"''' AS ?{x})", "BIND(\"\\u0022\" AS ?{x})", "BIND(<http://e/#'> AS ?{x})",
    "# a comment\r", "# a comment ' \" <\n", "BIND(1 AS ?{x}) #\r",
    "BIND(?a<?b AS ?{x})",
    "BIND(\"\\\\\" AS ?{x})", "BIND(\"a#\" AS ?{x})", "BIND('<' AS ?{x})", "BIND(ex:é\\' AS ?{x})",
]

PLACES = ["{s}", "OPTIONAL {{ {s} }}", "{{ ?a ?b ?c }} UNION {{ {s} }}",
          "FILTER EXISTS {{ {s} }}", "MINUS {{ {s} }}",
          "{{ SELECT * WHERE {{ {s} }} }}", "GRAPH ?g {{ {s} }}", "FILTER NOT EXISTS {{ {s} }}"]

PROLOGUE = "PREFIX ex: <http://e/>\n"


def query(keyword: str, target: str, hider: str = "", place: str = "{s}") -> str:
    service = f"{keyword} {target} {{ ?m ?n ?k }}"
    body = place.format(s=service)
    return f"{PROLOGUE}SELECT * WHERE {{ ?a ?b ?c . {hider.format(x='h')} {body} }}"


def glued(port: int) -> list[str]:
    """The keyword glued to its target (Oxigraph reads a keyword without a word boundary)."""
    return [
        f"PREFIX ex: <http://127.0.0.1:{port}/> SELECT * WHERE {{ ?a ?b ?c . SERVICEex:x {{ ?m ?n ?k }} }}",
        f"SELECT * WHERE {{ ?a ?b ?c . SERVICESILENT<http://127.0.0.1:{port}/> {{ ?m ?n ?k }} }}",
        f"SELECT * WHERE {{ ?a ?b ?c . SERVICE<http://127.0.0.1:{port}/>{{?m ?n ?k}} }}",
        f"PREFIX : <http://127.0.0.1:{port}/> SELECT * WHERE {{ ?a ?b ?c . SERVICE: {{ ?m ?n ?k }} }}",
        f"PREFIX ex: <http://127.0.0.1:{port}/> SELECT * WHERE {{ ?a ?b ?c . SERVICE ex:\\/x "
        "{ ?m ?n ?k } }",
        f"BASE <http://127.0.0.1:{port}/> SELECT * WHERE {{ ?a ?b ?c . SERVICE <sparql> {{ ?m ?n ?k }} }}",
        f"SELECT * WHERE {{ BIND(<http://127.0.0.1:{port}/> AS ?e) SERVICE ?e {{ ?m ?n ?k }} }}",
        f"SELECT * WHERE {{ VALUES ?e {{ <http://127.0.0.1:{port}/> }} SERVICE ?e {{ ?m ?n ?k }} }}",
        f"ASK {{ SERVICE <http://127.0.0.1:{port}/> {{ ?m ?n ?k }} }}",
        f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ SERVICE <http://127.0.0.1:{port}/> {{ ?m ?n ?k }} }}",
        f"DESCRIBE ?s WHERE {{ SERVICE <http://127.0.0.1:{port}/> {{ ?m ?n ?k }} }}",
    ]


def all_variants(port: int) -> list[str]:
    """Keywords × targets, hiders × places, and the glued forms: several hundred queries."""
    out = [query(k, t) for k, t in itertools.product(KEYWORDS, targets(port))]
    main = f"<http://127.0.0.1:{port}/sparql>"
    out += [query("SERVICE", main, h, p) for h, p in itertools.product(HIDERS, PLACES)]
    out += glued(port)
    return out
