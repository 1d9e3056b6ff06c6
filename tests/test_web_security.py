"""The web surface as an attacker meets it, on a live server and in Debian's chromium.

- Every response carries a Content-Security-Policy with no inline script, ``nosniff``, a
  frame ban and a Referrer-Policy; the pages work under it (no violation in the browser).
- Only http(s) IRIs become links, in the server's pages and in the query page's results.
- The ``Host`` header is never written back; ``X-Forwarded-*`` are believed only from
  ``TRUSTED_PROXIES``.
- No request path breaks a header (ETag, Link, Content-Location).
- The CSV downloads offered to spreadsheets hold no cell a spreadsheet reads as a formula.

The served release is the seed with a structure named like a spreadsheet formula, plus
statements whose objects are ``javascript:``, ``data:`` and ``vbscript:`` IRIs (added to the
release's dump, as a remote store or a hostile source could hold them).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import threading

import pytest
import requests
from conftest import SEED, build_release, free_port, live_server, start_server, stop
from werkzeug.serving import make_server

from endpoint.proxies import TrustedProxies, parse_networks

BASE = "https://w3id.org/senacs-kg/"
STRUCTURE = BASE + "structure/centre-social-reynerie-31"
ACTION = BASE + "action/centre-social-reynerie-31/les-rdv-d-accueil-social"
FORMULA_NAME = '=HYPERLINK("http://evil.example","clic")'
HOSTILE_IRIS = ["javascript:alert(document.domain)", "JaVaScRiPt:alert(2)",
                "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "vbscript:msgbox(1)"]
SAFE_IRI = "https://example.org/elsewhere"
HOSTILE_HOST = 'evil.example"><script>alert(1)</script>'
SEE_ALSO = "http://www.w3.org/2000/01/rdf-schema#seeAlso"


def hostile_statements(actions: list[str]) -> str:
    """N-Triples linking the data to non-http IRIs: a structure's seeAlso, an action's keyword
    (labelled, so the home page lists it), and every action's resolved partner (named, so the
    home page's most frequent partners list it)."""
    lines = [f"<{STRUCTURE}> <{SEE_ALSO}> <{iri}> ." for iri in [*HOSTILE_IRIS, SAFE_IRI]]
    trap = HOSTILE_IRIS[0]
    lines += [f"<{ACTION}> <{BASE}def#keyword> <{HOSTILE_IRIS[2]}> .",
              f'<{HOSTILE_IRIS[2]}> <http://www.w3.org/2004/02/skos/core#prefLabel> '
              f'"mot piégé"@fr .',
              f'<{trap}> <https://schema.org/name> "Partenaire piégé" .']
    lines += [f"<{a}> <{BASE}def#resolvedPartner> <{trap}> ." for a in actions]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    work = tmp_path_factory.mktemp("websec")
    lines = SEED.read_text(encoding="utf-8").split("\n")
    assert lines[4] == "- SOUS LES TILLEULS - Haute-Garonne"
    lines[4] = f"- {FORMULA_NAME} - Haute-Garonne"
    source = work / "hostile.txt"
    source.write_text("\n".join(lines), encoding="utf-8")
    release = build_release(source, work / "release")
    dump = release / "dataset.nt.gz"
    text = gzip.decompress(dump.read_bytes()).decode("utf-8")
    actions = sorted(set(re.findall(
        r"^<([^>]+)> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
        rf"<{re.escape(BASE)}def#Action> \.$", text, re.M)))
    assert ACTION in actions and len(actions) == 25
    dump.write_bytes(gzip.compress((text + hostile_statements(actions)).encode("utf-8")))
    # the dump no longer matches the manifest's checksum (that is the point), nor the flush
    # points it lists, which go: the server then reads it whole through gzip
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    del manifest["files"]["dataset.nt.gz"]["blocks"]
    (release / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with live_server(release, work / "store", VERIFY_RELEASE=False) as root:
        yield {"root": root, "release": release, "work": work}


def path_of(iri: str) -> str:
    return "/" + iri[len(BASE):]


# -- 1. security headers and the Content-Security-Policy ------------------------------------------

PAGES = ["/", "/sparql", path_of(ACTION), path_of(STRUCTURE), "/network/", "/def",
         "/organisation/caf-31", "/action/no-such-thing"]
OTHERS = [("GET", "/sparql", {}), ("GET", "/sparql?query=ASK%7B%7D", {}),
          ("GET", "/catalog", {}), ("GET", "/dumps/manifest.json", {}),
          ("GET", "/network/structures.csv", {}), ("GET", "/static/query.js", {}),
          ("GET", "/healthz", {}), ("GET", "/no/such/path", {}),
          ("POST", "/sparql", {"Content-Type": "text/plain"}), ("OPTIONS", "/sparql", {}),
          ("GET", path_of(ACTION) + ".ttl", {}), ("GET", "/sparql?query=nonsense", {})]


def directives(policy: str) -> dict[str, list[str]]:
    parts = (p.split() for p in policy.split(";") if p.strip())
    return {p[0]: p[1:] for p in parts}


def assert_secure_headers(response: requests.Response) -> None:
    where = (response.request.method, response.url, response.status_code)
    policy = directives(response.headers.get("Content-Security-Policy", ""))
    assert policy.get("frame-ancestors") == ["'none'"], where
    assert policy.get("default-src") == ["'none'"], where
    assert policy.get("script-src") == ["'self'"], where  # no 'unsafe-inline', no nonce
    assert "'unsafe-inline'" not in policy.get("style-src", []), where
    assert policy.get("base-uri") == ["'none'"], where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    assert response.headers.get("X-Frame-Options") == "DENY", where
    assert response.headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", where


def test_every_response_carries_the_security_headers(site):
    html = {"Accept": "text/html"}
    for path in PAGES:
        page = requests.get(site["root"] + path, headers=html, timeout=30)
        assert page.status_code in (200, 404) and page.headers["Content-Type"].startswith(
            "text/html"), (path, page.status_code)
        assert_secure_headers(page)
    for method, path, headers in OTHERS:
        assert_secure_headers(requests.request(method, site["root"] + path, headers=headers,
                                               timeout=30))
    again = requests.get(site["root"] + "/", headers=html, timeout=30)  # replayed from the cache
    assert "Age" in again.headers  # the response cache answered
    assert_secure_headers(again)


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")",
                           re.I)


def test_our_pages_have_no_inline_script_style_or_handler(site):
    for path in [p for p in PAGES if p != "/def"]:
        page = requests.get(site["root"] + path, headers={"Accept": "text/html"}, timeout=30).text
        assert not INLINE_SCRIPT.search(page), path
        assert "<style" not in page and " style=" not in page, path
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", page, re.I), path


def test_the_generated_ontology_page_allows_exactly_its_own_style_block(site):
    """/def is pyLODE's page: one inline <style> (allowed by its hash), data: icons, a JSON-LD
    block, no script and no style attribute."""
    page = requests.get(site["root"] + "/def", headers={"Accept": "text/html"}, timeout=30)
    assert not INLINE_SCRIPT.search(page.text) and " style=" not in page.text
    styles = re.findall(r"<style>(.*?)</style>", page.text, re.S)
    assert len(styles) == 1
    import base64

    digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
    policy = directives(page.headers["Content-Security-Policy"])
    assert policy["style-src"] == ["'self'", f"'sha256-{digest}'"]
    assert policy["img-src"] == ["'self'", "data:"]
    again = requests.get(site["root"] + "/def", timeout=30,
                         headers={"Accept": "text/html", "If-None-Match": page.headers["ETag"]})
    # a 304's headers replace the cached copy's: it must not bring a policy without the hash
    assert again.status_code == 304 and "Content-Security-Policy" not in again.headers


CSP_WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));
"""


def open_watched(browser, url: str):
    """A page with every CSP violation and CSP console message recorded."""
    page = browser.new_page()
    page.add_init_script(CSP_WATCH)
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    response = page.goto(url)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"], url
    page.wait_for_load_state("networkidle")
    return page, messages


def assert_no_violation(page, messages: list[str]) -> None:
    violations = page.evaluate("window.__violations")
    csp_messages = [m for m in messages if "Content Security Policy" in m]
    assert violations == [] and csp_messages == [], (page.url, violations, csp_messages)


def test_pages_work_under_the_policy_in_chromium(site, browser):
    root = site["root"]
    for path in ["/", path_of(ACTION), path_of(STRUCTURE), "/action/no-such-thing"]:
        page, messages = open_watched(browser, root + path)
        assert page.locator("h1").count() == 1
        if path != "/action/no-such-thing":  # our stylesheet applied
            assert "system-ui" in page.evaluate("getComputedStyle(document.body).fontFamily")
        assert_no_violation(page, messages)
        page.close()

    page, messages = open_watched(browser, root + "/sparql")
    assert page.evaluate("getComputedStyle(document.querySelector('.editor')).position") \
        == "relative"  # query.css applied
    page.select_option("#examples", "actions-of-a-structure")  # the JSON data block was read
    page.click("#run")
    page.wait_for_selector("#results table tbody tr")
    assert page.locator("#results table tbody tr").count() == 3
    assert_no_violation(page, messages)
    page.close()

    page, messages = open_watched(browser, root + "/network/")
    page.wait_for_selector("#view circle")
    assert page.locator("#view circle").count() == 11  # structures with a partner body (EPCI ones included)
    assert_no_violation(page, messages)
    page.close()

    page, messages = open_watched(browser, root + "/def")
    rules = page.evaluate("[...document.querySelectorAll('style')]"
                          ".map((s) => s.sheet ? s.sheet.cssRules.length : -1)")
    assert len(rules) == 1 and rules[0] > 10  # pyLODE's own style block applied
    assert_no_violation(page, messages)
    page.close()


def test_the_policy_stops_a_script_that_slipped_into_a_page(site, browser):
    """What the policy is for, and proof the watch above sees violations: an inline script
    added to the page does not run, and is reported."""
    page, messages = open_watched(browser, site["root"] + path_of(ACTION))
    page.evaluate("""() => { const s = document.createElement("script");
        s.textContent = "document.body.dataset.ran = 'yes'"; document.body.appendChild(s); }""")
    page.wait_for_timeout(200)
    assert page.evaluate("document.body.dataset.ran") is None
    assert any(v.startswith("script-src") for v in page.evaluate("window.__violations"))
    page.close()


# -- 2. links only for http(s) IRIs ---------------------------------------------------------------


def hrefs(html: str) -> list[str]:
    return re.findall(r'<a\b[^>]*\bhref="([^"]*)"', html)


def assert_only_http_links(html: str, where: str) -> None:
    for href in hrefs(html):
        scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", href)
        assert scheme is None or scheme.group(1).lower() in ("http", "https"), (where, href)


def test_server_pages_link_only_http_iris(site):
    html = {"Accept": "text/html"}
    root = site["root"]
    structure = requests.get(root + path_of(STRUCTURE), headers=html, timeout=30).text
    assert_only_http_links(structure, "structure")
    # shown as text: by their label where the data gives one, else the IRI itself
    for text in ("Partenaire piégé", HOSTILE_IRIS[1], "mot piégé", HOSTILE_IRIS[3]):
        assert f'<span class="iri-text">{text}</span>' in structure, text
    assert f'<a href="{SAFE_IRI}">{SAFE_IRI}</a>' in structure
    action = requests.get(root + path_of(ACTION), headers=html, timeout=30).text
    assert_only_http_links(action, "action")
    assert '<span class="iri-text">mot piégé</span>' in action
    assert '<span class="iri-text">Partenaire piégé</span>' in action
    home = requests.get(root + "/", headers=html, timeout=30).text
    assert_only_http_links(home, "home")
    assert '<span class="iri-text">Partenaire piégé</span>' in home
    assert '<span class="iri-text">mot piégé (1)</span>' in home
    assert 'href="/structure/' in home or 'href="/organisation/' in home  # others still link


def test_browser_sees_only_http_links_in_pages(site, browser):
    for path in ["/", path_of(STRUCTURE), path_of(ACTION)]:
        page = browser.new_page()
        page.goto(site["root"] + path)
        protocols = page.evaluate("[...document.querySelectorAll('a[href]')].map((a) => a.protocol)")
        assert protocols and set(protocols) <= {"http:", "https:"}, (path, set(protocols))
        page.close()


def test_query_results_show_a_javascript_iri_as_text(site, browser):
    values = " ".join(f"(<{iri}>)" for iri in [*HOSTILE_IRIS, SAFE_IRI, ACTION])
    for query in ["SELECT * WHERE { BIND(<javascript:alert(document.domain)> AS ?x) }",
                  f"SELECT ?x WHERE {{ VALUES (?x) {{ {values} }} }}"]:
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d, seen=dialogs: (seen.append(d.message), d.dismiss()))
        page.goto(site["root"] + "/sparql?" + requests.compat.urlencode({"query": query}))
        page.wait_for_selector("#results table tbody tr")
        cells = page.locator("#results table tbody td")
        texts = [cells.nth(i).inner_text() for i in range(cells.count())]
        assert "javascript:alert(document.domain)" in texts
        links = page.evaluate("[...document.querySelectorAll('#results a')]"
                              ".map((a) => [a.protocol, a.getAttribute('href')])")
        assert all(protocol in ("http:", "https:") for protocol, _ in links), links
        if "VALUES" in query:
            assert sorted(h for _, h in links) == sorted([SAFE_IRI, path_of(ACTION)])
            assert set(texts) == {*HOSTILE_IRIS, SAFE_IRI, ACTION}
        for cell in page.locator("#results td").all():  # clicking their text runs nothing
            if cell.inner_text() in HOSTILE_IRIS:
                cell.click()
        assert dialogs == [] and page.url.startswith(site["root"] + "/sparql?")
        page.close()


# -- 3. the Host header is never written back -----------------------------------------------------


def test_a_hostile_host_header_is_never_reflected(site):
    root = site["root"]
    asked = [("/sparql", {}), ("/sparql", {"Accept": "text/html"}),
             ("/sparql", {"Accept": "application/ld+json"}), ("/", {"Accept": "text/html"}),
             ("/network", {}), ("/def", {"Accept": "text/html"}), ("/no/such/path", {}),
             (path_of(ACTION), {"Accept": "text/turtle"})]
    for path, headers in asked:
        response = requests.get(root + path, headers={**headers, "Host": HOSTILE_HOST},
                                timeout=30, allow_redirects=False)
        text = response.text + json.dumps(dict(response.headers))
        assert "evil.example" not in text, (path, response.status_code)
    sd = requests.get(root + "/sparql", headers={"Host": HOSTILE_HOST}, timeout=30).text
    assert f"<{BASE}sparql> a sd:Service" in sd and f"sd:endpoint <{BASE}sparql>" in sd
    page = requests.get(root + "/sparql", headers={"Host": HOSTILE_HOST, "Accept": "text/html"},
                        timeout=30).text
    assert f"<code>{BASE}sparql</code>" in page
    redirect = requests.get(root + "/network", headers={"Host": "evil.example"}, timeout=30,
                            allow_redirects=False)
    assert redirect.status_code == 308 and redirect.headers["Location"] == "/network/"


# -- 4. X-Forwarded-* only from trusted proxies ---------------------------------------------------


def echo(environ, start_response):
    """A test-only WSGI application: what the application behind the middleware sees."""
    seen = {k: environ.get(k) for k in ("REMOTE_ADDR", "wsgi.url_scheme", "HTTP_HOST")}
    seen["forwarded"] = sorted(k for k in environ if k.startswith("HTTP_X_FORWARDED"))
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(seen).encode()]


@pytest.fixture(scope="module")
def behind():
    """The middleware around ``echo`` on 127.0.0.1, one server per TRUSTED_PROXIES setting."""
    servers, roots = [], {}
    for name, trusted in (("none", []), ("loopback", ["127.0.0.1"]),
                          ("chain", ["127.0.0.0/8", "10.0.0.0/8", "::1"])):
        port = free_port()
        server = make_server("127.0.0.1", port, TrustedProxies(echo, parse_networks(trusted)),
                             threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        roots[name] = f"http://127.0.0.1:{port}"
    yield roots
    for server in servers:
        server.shutdown()
        server.server_close()


def seen(root: str, **headers: str) -> dict:
    names = {"xff": "X-Forwarded-For", "proto": "X-Forwarded-Proto", "host": "X-Forwarded-Host"}
    return requests.get(root + "/", timeout=10,
                        headers={names[k]: v for k, v in headers.items()}).json()


def test_forwarded_headers_are_ignored_unless_the_peer_is_trusted(behind):
    got = seen(behind["none"], xff="203.0.113.9", proto="https", host="public.example")
    assert got["REMOTE_ADDR"] == "127.0.0.1" and got["wsgi.url_scheme"] == "http"
    assert got["HTTP_HOST"] == behind["none"][len("http://"):]
    assert got["forwarded"] == []  # removed: nothing behind can read a forged one


def test_a_trusted_proxy_gives_the_client_address_and_scheme(behind):
    got = seen(behind["loopback"], xff="203.0.113.9", proto="https", host="public.example")
    assert got == {"REMOTE_ADDR": "203.0.113.9", "wsgi.url_scheme": "https",
                   "HTTP_HOST": "public.example", "forwarded": []}
    # what the client wrote itself (left) is not believed: the right-most untrusted address is
    spoofed = seen(behind["loopback"], xff="10.9.9.9, 198.51.100.7")
    assert spoofed["REMOTE_ADDR"] == "198.51.100.7" and spoofed["wsgi.url_scheme"] == "http"


def test_a_chain_of_trusted_proxies_is_walked_from_the_right(behind):
    got = seen(behind["chain"], xff="1.1.1.1, 203.0.113.9, 10.0.0.2", proto="https, http")
    assert got["REMOTE_ADDR"] == "203.0.113.9"
    assert got["wsgi.url_scheme"] == "https"  # as the proxy that met the client wrote it
    every = seen(behind["chain"], xff="10.0.0.3, 10.0.0.2")
    assert every["REMOTE_ADDR"] == "10.0.0.3"
    v6 = seen(behind["chain"], xff="[2001:db8::1]:4711, 10.0.0.2")
    assert v6["REMOTE_ADDR"] == "2001:db8::1"


def test_malformed_forwarded_values_change_nothing(behind):
    got = seen(behind["loopback"], xff="not-an-address", proto="javascript",
               host='evil.example"><script>')
    assert got["REMOTE_ADDR"] == "127.0.0.1" and got["wsgi.url_scheme"] == "http"
    assert got["HTTP_HOST"] == behind["loopback"][len("http://"):]


def test_the_application_runs_with_trusted_proxies_and_never_shows_a_forwarded_host(
        site, tmp_path):
    port = free_port()
    proc = start_server(site["release"], tmp_path / "store", port, VERIFY_RELEASE=False,
                        TRUSTED_PROXIES=["127.0.0.1"])
    try:
        root = f"http://127.0.0.1:{port}"
        forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https",
                     "X-Forwarded-Host": "public.example"}
        redirect = requests.get(root + "/network", headers=forwarded, timeout=30,
                                allow_redirects=False)
        assert redirect.status_code == 308 and redirect.headers["Location"] == "/network/"
        sd = requests.get(root + "/sparql", headers=forwarded, timeout=30).text
        assert f"sd:endpoint <{BASE}sparql>" in sd and "public.example" not in sd
    finally:
        stop(proc)


def test_the_proxy_middleware_wraps_every_other_one(site, tmp_path):
    """Whatever runs outside it (a per-client limiter wired after it, say) would see the proxy's
    address for every client: it must be the application's outermost layer."""
    from endpoint.app import create_app

    app = create_app({"RELEASE_DIR": str(site["release"]), "STORE_DIR": str(tmp_path / "store"),
                      "VERIFY_RELEASE": False, "WARM_CACHE": False, "QUERY_WORKERS": 1})
    try:
        assert isinstance(app.wsgi_app, TrustedProxies)
    finally:
        app.extensions["senacs"].store.close()


def test_a_wrong_trusted_proxies_entry_stops_the_start(site, tmp_path):
    run = subprocess.run([sys.executable, "-m", "mapping.cli", "serve", "--release",
                          str(site["release"]), "--store", str(tmp_path / "store"), "--port",
                          str(free_port())], capture_output=True, text=True, timeout=60,
                         env={**os.environ,
                              "SENACS_KG_TRUSTED_PROXIES": '["10.0.0.0/33"]'})
    assert run.returncode == 2
    assert "TRUSTED_PROXIES" in run.stderr and "10.0.0.0/33" in run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "store").exists()


# -- 5. no request path breaks a header ---------------------------------------------------------

ODD_PATHS = ["/action/x%22y", "/action/%C3%A9", "/action/a%0d%0ab", "/action/a%20b",
             "/action/x%22y.ttl", "/structure/%C3%A9t%C3%A9%22%0d%0aSet-Cookie:%20a=b",
             "/concept/%E2%80%A8", "/action/%C3%A9.html", "/source/a%20%22b%22.txt"]


def test_odd_paths_never_give_a_500(site):
    for path in ODD_PATHS:
        for accept in ("text/html", "text/turtle"):
            response = requests.get(site["root"] + path, headers={"Accept": accept}, timeout=30)
            assert response.status_code in (400, 404), (path, response.status_code)
            assert "Set-Cookie" not in response.headers and "Traceback" not in response.text


def test_link_and_content_location_are_percent_encoded(site):
    """A real resource reached through an encoded character: its headers name it encoded."""
    path = path_of(ACTION) + "%23source"  # the action's provenance node, ACTION#source
    response = requests.get(site["root"] + path, headers={"Accept": "text/turtle"}, timeout=30)
    assert response.status_code == 200 and "prov" in response.text
    assert response.headers["Content-Location"] == path + ".ttl"
    links = re.findall(r"<([^>]*)>", response.headers["Link"])
    assert path + ".jsonld" in links and all("#" not in link for link in links)
    etag = response.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]{20}"', etag), etag
    assert requests.get(site["root"] + path, timeout=30, headers={
        "Accept": "text/turtle", "If-None-Match": etag}).status_code == 304


# -- 6. downloads offered to spreadsheets ---------------------------------------------------------

RISKY = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tTAB", "\r=CR", "-5", "+1.5e3", "plain", "a,b\"c"]


def values_query() -> str:
    rows = " ".join("(" + json.dumps(v) + ")" for v in RISKY)
    return f"SELECT ?v WHERE {{ VALUES (?v) {{ {rows} (<{HOSTILE_IRIS[0]}>) }} }}"


def test_the_spreadsheet_csv_neutralises_formulas(site):
    response = requests.get(site["root"] + "/sparql", timeout=30, params={
        "query": values_query(), "format": "csv", "download": "spreadsheet"})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="results.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))
    assert rows[0] == ["v"]
    assert [r[0] for r in rows[1:]] == [
        "'=1+1", "'+SUM(A1)", "'-2+3", "'@cmd", "'\tTAB", "'\r=CR", "-5", "+1.5e3", "plain",
        'a,b"c', HOSTILE_IRIS[0]]
    tsv = requests.get(site["root"] + "/sparql", timeout=30, params={
        "query": values_query(), "format": "tsv", "download": "spreadsheet"})
    cells = [r[0] for r in csv.reader(io.StringIO(tsv.content.decode(), newline=""),
                                      delimiter="\t")]
    assert tsv.headers["Content-Disposition"].endswith('filename="results.tsv"')
    assert cells[1:5] == ["'=1+1", "'+SUM(A1)", "'-2+3", "'@cmd"]


def test_the_negotiated_sparql_csv_stays_as_the_standard_says(site):
    response = requests.get(site["root"] + "/sparql", timeout=30,
                            params={"query": values_query()}, headers={"Accept": "text/csv"})
    assert response.status_code == 200 and "Content-Disposition" not in response.headers
    assert "\r\n=1+1\r\n" in response.text and "'=" not in response.text


def test_spreadsheet_download_refuses_what_it_cannot_give(site):
    for params in ({"query": "SELECT * {}", "format": "json", "download": "spreadsheet"},
                   {"query": "SELECT * {}", "format": "csv", "download": "excel"}):
        response = requests.get(site["root"] + "/sparql", params=params, timeout=30)
        assert response.status_code == 400, params
        assert response.text.count("\n") == 1 and "download" in response.text
    # an ASK has no CSV at all: the format is refused before the download is considered
    ask = requests.get(site["root"] + "/sparql", timeout=30,
                       params={"query": "ASK {}", "format": "csv", "download": "spreadsheet"})
    assert ask.status_code == 406 and "sparql-results+json" in ask.text


def test_query_page_downloads_are_the_spreadsheet_ones(site, browser):
    page = browser.new_page()
    page.goto(site["root"] + "/sparql?" + requests.compat.urlencode({"query": values_query()}))
    page.wait_for_selector("#downloads a")
    links = {a.inner_text(): a.get_attribute("href") for a in page.locator("#downloads a").all()}
    page.close()
    assert "download=spreadsheet" in links["CSV"] and "format=csv" in links["CSV"]
    assert "download=spreadsheet" in links["TSV"] and "download" not in links["JSON"]
    body = requests.get(site["root"] + links["CSV"], timeout=30).content.decode()
    assert "\r\n'=1+1\r\n" in body


def test_network_csv_for_spreadsheets_and_the_release_file_unchanged(site):
    root, release = site["root"], site["release"]
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    plain = requests.get(root + "/network/structures.csv", timeout=30)
    assert hashlib.sha256(plain.content).hexdigest() == \
        manifest["files"]["network/structures.csv"]["sha256"]
    assert FORMULA_NAME.replace('"', '""') in plain.text
    offered = requests.get(root + "/network/structures.csv?download=spreadsheet", timeout=30)
    assert offered.headers["Content-Disposition"] == 'attachment; filename="structures.csv"'
    rows = list(csv.DictReader(io.StringIO(offered.content.decode("utf-8"), newline="")))
    labels = {r["label"] for r in rows}
    assert "'" + FORMULA_NAME in labels and FORMULA_NAME not in labels
    assert len(rows) == 11 and all(not r["degree"].startswith("'") for r in rows)
    page = requests.get(root + "/network/", timeout=30).text
    assert 'href="/network/structures.csv?download=spreadsheet"' in page
