"""SERVICE to the allow-list only: a query worker in its own network namespace, relays, a forwarder.

Each test runs a real query worker ('spawn' child) that calls ``federation.enter()``, then runs
probes (HTTP requests, raw connections, pyoxigraph SERVICE queries, name lookups) sent to it over
its pipe after it entered, and sends the results back the same way. The listeners the probes must
not reach count their connections: every such count must stay zero. All traffic stays on
127.0.0.0/8 (names and non-loopback literals in the allow-list are mapped, inside the worker's
namespace, to a forwarder that is given the test's loopback server as the real target).
"""

from __future__ import annotations

import ctypes
import http.client
import http.server
import json
import multiprocessing
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from endpoint import federation

pytestmark = pytest.mark.skipif(not Path("/proc/self/ns/net").exists(), reason="needs Linux namespaces")

NAME = "senacs-federation-test.invalid"  # real DNS cannot resolve it: only the relay's mapping can
ROW = {"head": {"vars": ["s"]},
       "results": {"bindings": [{"s": {"type": "uri", "value": "http://example.org/from-remote"}}]}}


# -- the test's own listeners (the real servers the worker may or may not reach) ------------------


class SparqlServer:
    """A loopback SPARQL endpoint answering one row, recording every request it receives."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[dict] = []
        self.server_names: list[str | None] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                length = int(self.headers.get("Content-Length") or 0)
                server.requests.append({"method": self.command, "path": self.path,
                                        "host": self.headers.get("Host"),
                                        "type": self.headers.get("Content-Type"),
                                        "body": self.rfile.read(length).decode()})
                body = json.dumps(ROW).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/sparql-results+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            tls.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class CountingListener:
    """A loopback TCP listener that counts (and holds open) every connection it accepts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    @property
    def count(self) -> int:
        return len(self.accepted)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def server():
    srv = SparqlServer()
    yield srv
    srv.close()


@pytest.fixture
def forbidden():
    listener = CountingListener()
    yield listener
    listener.close()


@pytest.fixture
def run_dir():
    path = tempfile.mkdtemp(prefix="fed-")  # short: a Unix socket path has 107 bytes at most
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


# -- the query worker ----------------------------------------------------------------------------


def _drop_sys_admin() -> None:
    """Clear CAP_SYS_ADMIN, so enter() must take the unprivileged way (a user namespace)."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    libc = ctypes.CDLL(None, use_errno=True)
    header, data = Header(0x20080522, 0), (Data * 2)()  # _LINUX_CAPABILITY_VERSION_3
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    data[0].effective &= ~(1 << 21)
    data[0].permitted &= ~(1 << 21)
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def _probe(kind: str, arg):
    """One thing the worker tries: (True, what it got) or (False, the error)."""
    try:
        if kind == "service":
            import pyoxigraph as ox

            rows = ox.Store().query(f"SELECT ?s WHERE {{ SERVICE <{arg}> {{ ?s ?p ?o }} }}")
            return True, [row["s"].value for row in rows]
        if kind in ("get", "tls_get"):
            host, port, cafile = arg
            if kind == "get":
                conn = http.client.HTTPConnection(host, port, timeout=10)
            else:
                context = ssl.create_default_context(cafile=cafile)
                conn = http.client.HTTPSConnection(host, port, timeout=10, context=context)
            conn.request("GET", "/sparql?query=ASK%7B%7D")
            status = conn.getresponse().status
            conn.close()
            return True, status
        if kind == "connect":
            socket.create_connection(arg, timeout=5).close()
            return True, "connected"
        if kind == "resolve":
            return True, sorted({info[4][0] for info in socket.getaddrinfo(arg, 80)})
        if kind == "read":
            return True, Path(arg).read_text()
        raise ValueError(kind)
    except Exception as err:  # the probe reports any failure; the test says which it expects
        return False, f"{type(err).__name__}: {err}"


def _worker(allow: list[str], forwarder_path: str, host_netns: int, options: dict, conn) -> None:
    """The query worker: enter() first, then the probes the parent sends over the pipe."""
    if options.get("drop_sys_admin"):
        _drop_sys_admin()
    if options.get("thread_first"):
        threading.Thread(target=threading.Event().wait, args=(30,), daemon=True).start()
    if options.get("cafile"):
        os.environ["SSL_CERT_FILE"] = options["cafile"]  # Oxigraph's TLS trusts the test's CA
    try:
        federation.enter(federation.parse_allowlist(allow), forwarder_path)
    except federation.FederationError as err:
        conn.send(("refused", str(err)))
        return
    if os.stat("/proc/self/ns/net").st_ino == host_netns:  # never probe from the host's network
        conn.send(("refused", "enter() returned in the host's network namespace"))
        return
    conn.send(("entered", None))
    probes = conn.recv()
    conn.send([_probe(kind, arg) for kind, arg in probes])


def run_worker(allow: list[str], forwarder_path: str, probes: list, before_probes=None,
               **options) -> tuple[str, object]:
    """Start a worker, wait for enter(), then send it the probes: ("entered", results), or
    ("refused", enter()'s message)."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    host_netns = os.stat("/proc/self/ns/net").st_ino
    process = ctx.Process(target=_worker, args=(allow, forwarder_path, host_netns, options, child),
                          daemon=True)
    process.start()
    child.close()
    try:
        assert parent.poll(60), "the worker did not report within 60 s"
        status, message = parent.recv()
        if status != "entered":
            return status, message
        if before_probes is not None:
            before_probes()
        parent.send(probes)
        assert parent.poll(120), "the worker's probes did not finish within 120 s"
        return status, parent.recv()
    finally:
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join(5)
        parent.close()


# -- the allow-list ------------------------------------------------------------------------------


def test_the_allow_list_is_read_into_hosts_and_ports() -> None:
    targets = federation.parse_allowlist([
        "https://Query.Wikidata.org/sparql", "http://127.0.0.1:3030/ds/sparql?x=1",
        "http://[::1]:8890/sparql", "http://dbpedia.org"])
    assert targets == [
        federation.Target("https", "query.wikidata.org", 443, "https://Query.Wikidata.org/sparql"),
        federation.Target("http", "127.0.0.1", 3030, "http://127.0.0.1:3030/ds/sparql?x=1"),
        federation.Target("http", "::1", 8890, "http://[::1]:8890/sparql"),
        federation.Target("http", "dbpedia.org", 80, "http://dbpedia.org"),
    ]


@pytest.mark.parametrize("iri", [
    "ftp://example.org/sparql", "file:///etc/passwd", "sparql", "//example.org/sparql",
    "http:///sparql", "http://user:secret@example.org/sparql", "http://example.org:0/sparql",
    "http://example.org:65536/sparql", "http://example.org:http/sparql",
    "http://2130706433/sparql", "http://0x7f000001/sparql", "http://127.1/sparql",
    "http://0177.0.0.1/sparql", "http://0.0.0.0/sparql", "http://[::]/sparql",
    "http://[::ffff:127.0.0.1]/sparql", "http://[fe80::1%25eth0]/sparql",
    "http://169.254.169.254/latest", "http://224.0.0.1/sparql", "http://[not:an:ip]/sparql",
    "http://exa mple.org/sparql", "http://example.org/spa\nrql", "http://exa\tmple.org/sparql",
    "http://exämple.org/sparql", "http://-example.org/sparql", "http://example..org/sparql",
    "http://example.org./sparql", "http://exam_ple.org/sparql",
])
def test_the_allow_list_refuses_what_is_not_an_http_endpoint_of_one_host(iri: str) -> None:
    with pytest.raises(ValueError, match=r"^SERVICE_ALLOWLIST: ") as caught:
        federation.parse_allowlist(["https://query.wikidata.org/sparql", iri])
    assert repr(iri) in str(caught.value)


def test_host_names_get_loopback_addresses_of_their_own() -> None:
    targets = federation.parse_allowlist([
        "http://127.0.0.2:8000/", "https://a.example/", "http://localhost:3030/",
        "http://a.example:8080/", "https://b.example/", "http://[2001:db8::1]/"])
    assert federation.relay_addresses(targets) == {
        "127.0.0.2": "127.0.0.2", "a.example": "127.0.0.3", "localhost": "127.0.0.1",
        "b.example": "127.0.0.4", "2001:db8::1": "2001:db8::1"}


# -- the worker can reach the allow-list and nothing else ------------------------------------------


def test_a_worker_reaches_the_allowed_endpoint_and_nothing_else(server, forbidden, run_dir) -> None:
    allowed = f"http://127.0.0.1:{server.port}/sparql"
    forwarder = federation.Forwarder(federation.parse_allowlist([allowed]), run_dir)
    p1, p2 = server.port, forbidden.port
    refused = [f"http://127.0.0.1:{p2}/sparql", f"http://localhost:{p2}/sparql",
               f"http://2130706433:{p2}/sparql", f"http://0x7f000001:{p2}/sparql",
               f"http://[::1]:{p2}/sparql", f"http://127.0.0.2:{p1}/sparql"]
    probes = [("get", ("127.0.0.1", p1, None)), ("service", allowed),
              ("connect", ("127.0.0.1", p2)), ("connect", ("::1", p2)),
              ("connect", ("127.0.0.1", p1 + 1 if p1 + 1 != p2 else p1 + 2))]
    probes += [("service", iri) for iri in refused]
    probes += [("resolve", "localhost"), ("resolve", "example.invalid"),
               ("read", "/etc/hosts"), ("read", "/etc/nsswitch.conf")]
    try:
        status, results = run_worker([allowed], forwarder.path, probes)
    finally:
        forwarder.close()
    assert status == "entered", results
    get, service, connect_p2, connect_p2_v6, connect_other, *rest = results
    services, (localhost, unknown, hosts, nsswitch) = rest[:len(refused)], rest[len(refused):]
    assert get == (True, 200)
    assert service == (True, ["http://example.org/from-remote"])
    assert [(r["method"], r["type"], r["body"]) for r in server.requests] == [
        ("GET", None, ""),
        ("POST", "application/sparql-query", "SELECT * WHERE { ?s ?p ?o . }")]
    assert not connect_p2[0] and "refused" in connect_p2[1]
    assert not connect_p2_v6[0] and not connect_other[0]
    for iri, (ok, error) in zip(refused, services):
        assert not ok, f"SERVICE <{iri}> answered {error}"
    assert forbidden.count == 0  # the listener that is not allow-listed was never reached
    assert len(server.requests) == 2  # nor was the allowed one, on any other address or name
    assert localhost == (True, ["127.0.0.1"])
    assert unknown[0] is False  # no resolver: only the names of the allow-list exist
    assert hosts[1].splitlines()[1:] == ["127.0.0.1 localhost"]
    assert "hosts: files" in nsswitch[1].splitlines()
    assert NAME not in Path("/etc/hosts").read_text()  # the mounts stayed in the worker


@pytest.mark.parametrize("host", [NAME, "198.51.100.7", "[2001:db8::7]"])
def test_names_and_other_addresses_are_relayed_to_the_real_target(host, server, forbidden,
                                                                   run_dir) -> None:
    """The worker's allow-list names a host the test cannot run (a name no DNS resolves, an
    address not on this machine); the forwarder, given the same index, connects to the test's
    loopback server instead, so the request's Host header shows which path it took."""
    if ":" in host and not Path("/proc/net/if_inet6").exists():
        pytest.skip("no IPv6 on this machine")
    p1, p2 = server.port, forbidden.port
    allowed = f"http://{host}:{p1}/sparql"
    forwarder = federation.Forwarder(
        federation.parse_allowlist([f"http://127.0.0.1:{p1}/sparql"]), run_dir)
    bare = host.strip("[]")
    # Oxigraph cannot call an IPv6 literal (it looks the bracketed text up as a name): a plain
    # HTTP request checks the relay on that address instead
    reach = ("get", (bare, p1, None)) if ":" in host else ("service", allowed)
    probes = [reach, ("connect", (bare, p2)), ("service", f"http://{host}:{p2}/sparql"),
              ("resolve", NAME), ("resolve", "other.invalid")]
    try:
        status, results = run_worker([allowed], forwarder.path, probes)
    finally:
        forwarder.close()
    assert status == "entered", results
    reached, connect_p2, service_p2, resolved, other = results
    assert reached[0], reached
    assert [r["host"] for r in server.requests] == [f"{host}:{p1}"]
    assert not connect_p2[0] and not service_p2[0]
    assert forbidden.count == 0
    if host == NAME:
        assert resolved == (True, ["127.0.0.2"])
    else:
        assert resolved[0] is False
    assert other[0] is False


def make_certificate(where: Path, name: str) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for name that it signed: (cert, key, CA cert)."""
    ca_key, ca, key, request, cert = (where / f for f in ("ca.key", "ca.pem", "key.pem", "req.pem",
                                                           "cert.pem"))
    (where / "ext").write_text(f"subjectAltName=DNS:{name}\nbasicConstraints=CA:FALSE\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for command in (
            ["req", "-x509", *ec, "-days", "1", "-keyout", ca_key, "-out", ca, "-subj", "/CN=test CA"],
            ["req", *ec, "-keyout", key, "-out", request, "-subj", f"/CN={name}"],
            ["x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
             "-days", "1", "-extfile", where / "ext", "-out", cert]):
        subprocess.run(["openssl", *map(str, command)], check=True, capture_output=True, cwd=where)
    return cert, key, ca


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificate")
def test_tls_is_end_to_end_with_the_real_host_name(run_dir, tmp_path) -> None:
    cert, key, ca = make_certificate(tmp_path, NAME)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    tls_server = SparqlServer(tls=context)
    allowed = f"https://{NAME}:{tls_server.port}/sparql"
    forwarder = federation.Forwarder(
        federation.parse_allowlist([f"https://127.0.0.1:{tls_server.port}/sparql"]), run_dir)
    probes = [("tls_get", (NAME, tls_server.port, str(ca))), ("service", allowed)]
    try:
        status, results = run_worker([allowed], forwarder.path, probes, cafile=str(ca))
    finally:
        forwarder.close()
        tls_server.close()
    assert status == "entered", results
    assert results[0] == (True, 200)  # the certificate was checked against the real name
    assert results[1] == (True, ["http://example.org/from-remote"])  # Oxigraph's TLS too
    assert tls_server.server_names == [NAME, NAME]  # SNI passed through the relays untouched


def test_an_unprivileged_worker_enters_through_a_user_namespace(server, forbidden, run_dir) -> None:
    allowed = f"http://127.0.0.1:{server.port}/sparql"
    forwarder = federation.Forwarder(federation.parse_allowlist([allowed]), run_dir)
    probes = [("read", "/proc/self/uid_map"), ("service", allowed),
              ("service", f"http://127.0.0.1:{forbidden.port}/sparql")]
    try:
        status, results = run_worker([allowed], forwarder.path, probes, drop_sys_admin=True)
    finally:
        forwarder.close()
    assert status == "entered", results
    uid_map, service, refused = results
    assert uid_map[1].split() == ["0", str(os.getuid()), "1"]  # it did take the user namespace
    assert service == (True, ["http://example.org/from-remote"])
    assert not refused[0] and forbidden.count == 0


# -- failing closed ------------------------------------------------------------------------------


def test_without_its_forwarder_a_worker_reaches_nothing(server, run_dir) -> None:
    allowed = f"http://127.0.0.1:{server.port}/sparql"
    status, message = run_worker([allowed], str(run_dir / "missing.sock"), [])
    assert status == "refused"
    assert "missing.sock" in message and "could not be confined" in message

    forwarder = federation.Forwarder(federation.parse_allowlist([allowed]), run_dir)
    probes = [("service", allowed), ("get", ("127.0.0.1", server.port, None))]
    status, results = run_worker([allowed], forwarder.path, probes, before_probes=forwarder.close)
    assert status == "entered"
    assert [ok for ok, _ in results] == [False, False]
    assert server.requests == []  # no way around the forwarder once it is gone


def test_enter_refuses_a_worker_that_already_runs_threads(server, run_dir) -> None:
    allowed = f"http://127.0.0.1:{server.port}/sparql"
    forwarder = federation.Forwarder(federation.parse_allowlist([allowed]), run_dir)
    try:
        status, message = run_worker([allowed], forwarder.path, [], thread_first=True)
    finally:
        forwarder.close()
    assert status == "refused" and "before any thread starts" in message


# -- the forwarder itself ------------------------------------------------------------------------


def _client(forwarder: federation.Forwarder, index: int, opened: list) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    opened.append(sock)
    sock.settimeout(10)
    sock.connect(forwarder.path)
    sock.sendall(federation.HEADER.pack(index))
    return sock


def closed_by_peer(sock: socket.socket) -> bool:
    """The other side closed the connection (with our bytes unread that makes a reset)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def refused(forwarder: federation.Forwarder, index: int, opened: list) -> bool:
    """A new client naming index is closed without a byte (perhaps before its header is sent)."""
    try:
        sock = _client(forwarder, index, opened)
    except (BrokenPipeError, ConnectionResetError):
        return True
    return closed_by_peer(sock)


def test_the_forwarder_relays_only_to_the_target_named_by_index(server, forbidden, run_dir) -> None:
    forwarder = federation.Forwarder(
        federation.parse_allowlist([f"http://127.0.0.1:{server.port}/sparql"]), run_dir)
    opened: list[socket.socket] = []
    try:
        assert os.stat(forwarder.path).st_mode & 0o777 == 0o600
        sock = _client(forwarder, 0, opened)
        sock.sendall(b"GET /sparql HTTP/1.0\r\nHost: x\r\n\r\n")
        reply = b"".join(iter(lambda: sock.recv(65536), b""))
        assert reply.startswith(b"HTTP/1.0 200") and b"from-remote" in reply
        for index in (1, forbidden.port, 65535):
            assert refused(forwarder, index, opened)  # no such target: nothing reached
        assert len(server.requests) == 1 and forbidden.count == 0
    finally:
        forwarder.close()
        for sock in opened:
            sock.close()
    assert not os.path.exists(forwarder.path)


def test_the_forwarder_bounds_relays_and_idle_ones(run_dir) -> None:
    holder = CountingListener()  # accepts and holds: each relay to it stays open
    forwarder = federation.Forwarder(
        federation.parse_allowlist([f"http://127.0.0.1:{holder.port}/"]), run_dir,
        max_relays=2, idle=0.5)
    opened: list[socket.socket] = []
    try:
        first, second = _client(forwarder, 0, opened), _client(forwarder, 0, opened)
        assert wait_for(lambda: holder.count == 2)
        assert refused(forwarder, 0, opened)  # beyond max_relays: refused at once,
        assert holder.count == 2  # not queued until a slot frees
        assert closed_by_peer(first) and closed_by_peer(second)  # idle past 0.5 s: ended
        again = _client(forwarder, 0, opened)  # the slots are free again
        again.sendall(b"x")
        assert wait_for(lambda: holder.count == 3)
        holder.accepted[2].settimeout(10)
        assert holder.accepted[2].recv(1) == b"x"
        forwarder.close()  # ends the running relay too
        assert closed_by_peer(again)
    finally:
        forwarder.close()
        holder.close()
        for sock in opened:
            sock.close()
