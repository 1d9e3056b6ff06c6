"""Security headers on every response, opaque ETags, redirects that never name the Host, and
no ``Date`` of the application's own.

Every page's script and style comes from ``/static`` (no inline script, no inline style, no
event-handler attribute), so the Content-Security-Policy allows only this origin's files: a
value from the data or from a query that slipped into a page as markup could not run. The
JSON data blocks (``<script type="application/json">``, ``application/ld+json``) are not
scripts and are not executed. ``/def`` is pyLODE's page, made at build time with one inline
``<style>`` block: its policy allows exactly that block by its hash (no ``'unsafe-inline'``)
and the ``data:`` icons it embeds.

``Date`` is the HTTP server's to write: werkzeug's ``make_conditional`` (every ETag'd answer,
every ``send_file``) adds one, and the development server and gunicorn add their own beside
it or instead, while granian keeps the application's, so a replayed response said when it was
first made. Without the application's, every server sends exactly one, of the moment it
answers (a replayed response's ``Age`` says how old it is).
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from urllib.parse import quote

from flask import Flask, Response, has_request_context, request

POLICY = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "connect-src": "'self'",
    "form-action": "'self'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
}
GENERATED_PAGES = ("/def",)  # HTML made by other tools (pyLODE), not by our templates
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that do not read CSP
    # a query page's URL holds the query: other sites see only this origin
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
_STYLE = re.compile(rb"<style\b[^>]*>(.*?)</style\s*>", re.S | re.I)


def _policy(directives: dict[str, str]) -> str:
    return "; ".join(f"{name} {value}" for name, value in directives.items())


CSP = _policy(POLICY)


@lru_cache(maxsize=8)
def generated_page_policy(body: bytes) -> str:
    """The policy for a generated page: its own inline ``<style>`` blocks allowed by hash."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(style).digest()).decode() + "'"
        for style in _STYLE.findall(body))
    return _policy({**POLICY, "style-src": f"'self' {hashes}".strip(),
                    "img-src": "'self' data:"})


def content_security_policy(response: Response) -> str | None:
    """The policy for this response; None for a 304 of a generated page, whose cached copy
    keeps the policy that came with its body (a 304's headers replace the cached ones)."""
    if request.path not in GENERATED_PAGES or response.mimetype != "text/html":
        return CSP
    if response.status_code == 304 or response.direct_passthrough:
        return None
    return generated_page_policy(response.get_data())


def etag(release: str, *parts: str) -> str:
    """An ETag naming the release and a digest of what varies: never the request's own text
    (a quote, CR/LF or non-Latin-1 character in a header is a 500, or a forged header)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{release}-{digest[:20]}"


def mounted(path: str) -> str:
    """A path of this application as seen from the server's root, without the leading "/":
    a release of a series is mounted at ``/release/{id}/`` (``SCRIPT_NAME``, endpoint/series.py),
    whose prefix then comes first."""
    root = request.script_root.strip("/") if has_request_context() else ""
    return f"{root}/{path.lstrip('/')}" if root else path.lstrip("/")


def uri_path(path: str) -> str:
    """A request's path as a URI reference fit for a header (Link, Content-Location):
    percent-encoded, so a quote, CR/LF, space or non-ASCII character can neither break nor forge
    a header."""
    return "/" + quote(path.lstrip("/"), safe="/-._~!$&'()*+=:@", errors="surrogatepass")


def register(app: Flask) -> None:
    """The headers every response carries, and same-host redirects made relative."""

    @app.after_request
    def no_date(response: Response) -> Response:
        """The server writes the one ``Date`` (see the module's docstring)."""
        response.headers.pop("Date", None)
        return response

    @app.after_request
    def security_headers(response: Response) -> Response:
        policy = content_security_policy(response)
        if policy:
            response.headers["Content-Security-Policy"] = policy
        for name, value in HEADERS.items():
            response.headers[name] = value
        return response

    @app.after_request
    def relative_redirect(response: Response) -> Response:
        """werkzeug's slash redirects (``/network`` → ``/network/``) write the request's Host
        into Location; the path alone says the same without echoing it."""
        location = response.headers.get("Location")
        if location and location.startswith(request.host_url):
            # one leading slash: "//x" would name another host
            response.headers["Location"] = "/" + location[len(request.host_url):].lstrip("/")
        return response
