"""The Flask application factory: configuration, store, blueprints, error handlers."""

from __future__ import annotations

import atexit
import json
from collections.abc import Mapping
from pathlib import Path

import pyoxigraph as ox
from flask import Flask, Response, request

from endpoint import described, dumps, errors, fairness, headers, network, proxies, resources, sparql, state
from endpoint.cache import DISK_FILE, CachedStore, ResponseCache
from endpoint.config import load_config
from endpoint.guard import GuardedStore
from endpoint.state import server_state
from endpoint.store import EmbeddedStore, ReleaseError, RemoteStore, prepare_store
from mapping import release, vocab
from mapping.vocab import DEFAULT_BASE


def _mb(value: object) -> int:
    """A size setting in MB as bytes (0: no limit)."""
    return int(float(value) * 1024 * 1024)


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(load_config(config))
    trusted = trusted_proxies(app.config)  # a bad setting stops here, before any process starts
    release_dir = Path(str(app.config["RELEASE_DIR"]))
    try:
        manifest = release.read_manifest(release_dir)
    except release.NotARelease as err:
        raise ReleaseError(str(err)) from None
    base = str(app.config["BASE"] or manifest.get("base") or DEFAULT_BASE)
    base += "" if base.endswith("/") else "/"
    try:
        ox.NamedNode(base)  # pages bind IRIs made from it: it must be an IRI itself
    except ValueError:
        raise ReleaseError(f"BASE {base!r} is not an absolute IRI") from None
    app.config["BASE"] = base
    app.config["PREFIXES"] = vocab.prefixes(base)  # the Turtle and RDF/XML answers' prefixes
    if app.config["STORE"] == "remote":
        if not app.config["REMOTE_ENDPOINT"]:
            raise ReleaseError("STORE is 'remote' but REMOTE_ENDPOINT is not set")
        store = RemoteStore(str(app.config["REMOTE_ENDPOINT"]),
                            float(app.config["REMOTE_TIMEOUT"]), int(app.config["ROW_CAP"]),
                            _mb(app.config["MAX_RESPONSE_MB"]))
        release_id = manifest["release"]
        disk = None  # the remote endpoint's data may change under us: memory only
    else:
        store_dir = Path(str(app.config["STORE_DIR"]))
        release_id = prepare_store(release_dir, store_dir, base,
                                   bool(app.config["VERIFY_RELEASE"]))
        store = EmbeddedStore(store_dir, base, int(app.config["QUERY_WORKERS"]),
                              float(app.config["QUERY_TIMEOUT"]), int(app.config["ROW_CAP"]),
                              _mb(app.config["MAX_RESPONSE_MB"]),
                              int(app.config["WORKER_MEMORY_MB"]),
                              service_allowlist=list(app.config["SERVICE_ALLOWLIST"]))
        disk = store_dir / DISK_FILE  # goes away with the store when a release replaces it
    # inside the caches: only the queries that reach the store count against a client's share
    store = fairness.wrap(store, app.config, None if app.config["STORE"] == "remote"
                          else int(app.config["QUERY_WORKERS"]))
    store = GuardedStore(CachedStore(store, int(app.config["CACHE_ENTRIES"]), disk,
                                     float(app.config["CACHE_DISK_MB"]),
                                     float(app.config["CACHE_MEMORY_MB"])),
                         app.config["SERVICE_ALLOWLIST"], int(app.config["MAX_NESTING"]))
    atexit.register(store.close)
    app.extensions[state.KEY] = state.ServerState(
        store=store, release=release_id, manifest=manifest, triples=manifest.get("triples", 0),
        examples=sparql.load_examples(release_dir / release.EXAMPLES))
    if store.enabled and app.config["WARM_CACHE"]:
        sparql.warm(app, server_state(app).examples)
    if store.enabled and float(app.config["CACHE_RESPONSES_MB"]) > 0:
        app.wsgi_app = ResponseCache(app.wsgi_app, _mb(app.config["CACHE_RESPONSES_MB"]))
    errors.register(app)
    headers.register(app)
    fairness.register(app)
    app.register_blueprint(sparql.bp)
    app.register_blueprint(dumps.bp)
    app.register_blueprint(resources.bp)
    app.register_blueprint(described.bp)
    app.register_blueprint(network.bp)

    @app.after_request
    def cors(response: Response) -> Response:
        """Any web page may query the endpoint and read the data (GET and POST)."""
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Expose-Headers"] = (
            f"ETag, Link, Content-Location, Retry-After, X-Cache, Age, {sparql.TRUNCATED_HEADER}")
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type, Accept"
            response.headers["Access-Control-Max-Age"] = "86400"
        return response

    @app.get("/healthz")
    def healthz() -> Response:
        held = server_state(app)
        body = {"status": "ok", "release": release_id, "examples_warmed": held.warmed,
                "examples": len(held.examples), "home_warmed": held.home_warmed}
        return Response(json.dumps(body) + "\n", content_type="application/json")

    # Keep this wrap last, the outermost middleware: every other one (the per-client limits
    # first) must see the client's address, never the proxy's nor one a client wrote itself.
    app.wsgi_app = proxies.TrustedProxies(app.wsgi_app, trusted)
    return app


def trusted_proxies(config: Mapping[str, object]) -> tuple[proxies.Network, ...]:
    """``TRUSTED_PROXIES`` read, or the start refused with the entry that is wrong."""
    try:
        return proxies.parse_networks(config["TRUSTED_PROXIES"])
    except ValueError as err:
        raise ReleaseError(str(err)) from None
