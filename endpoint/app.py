"""The Flask application factory, in named steps: settings, release and base, the store chain,
the server state, the routes, the middleware, the warm-up."""

from __future__ import annotations

import json
import multiprocessing.util
from collections.abc import Callable, Mapping
from pathlib import Path

import pyoxigraph as ox
from flask import Flask, Response, request

from endpoint import (
    changelog,
    described,
    dumps,
    errors,
    fairness,
    headers,
    network,
    pages,
    proxies,
    refusal,
    resources,
    sparql,
    state,
)
from endpoint.cache import DISK_FILE, CachedStore, ResponseCache
from endpoint.config import ConfigError, load_config
from endpoint.guard import GuardedStore
from endpoint.state import server_state
from endpoint.store import EmbeddedStore, ReleaseError, RemoteStore, Store, prepare_store
from mapping import release, vocab
from mapping.vocab import DEFAULT_BASE


def _mb(value: object) -> int:
    """A size setting in MB as bytes (0: no limit)."""
    return int(float(value) * 1024 * 1024)


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """The application for one release, built in named steps: settings, the release and its
    base, the store chain, the server state, the routes, the middleware, then the warm-up.
    With ``SERIES_DIR`` set, the application of a whole release series (endpoint/series.py).

    Called with no ``config``, as gunicorn and granian call it (configured by SENACS_KG_*
    variables), a refused start (a bad setting, a damaged release) ends the worker with its
    reason in one line (endpoint/refusal.py); otherwise the error is raised to the caller."""
    if config is None:
        if (reason := refusal.earlier()) is not None:  # another worker of this server was
            refusal.refuse(reason)  # refused: so is this one, without loading anything
        try:
            return _create_app(None)
        except (ReleaseError, ConfigError) as err:
            refusal.refuse(str(err))
    return _create_app(config)


def _create_app(config: Mapping[str, object] | None) -> Flask:
    settings = load_config(config)
    if settings["SERIES_DIR"]:
        from endpoint import series

        return series.create_series_app(settings)
    app = Flask(__name__)
    trusted = apply_settings(app, settings)
    manifest = read_release(app.config)
    apply_base(app, manifest)
    store, release_id = store_chain(app.config, manifest)
    hold_state(app, store, release_id, manifest)
    register_routes(app)
    add_middleware(app, trusted)
    start_warm_up(app)
    return app


def apply_settings(app: Flask, config: Mapping[str, object] | None) -> tuple[proxies.Network, ...]:
    """The typed settings into ``app.config``; the trusted proxies they name, parsed now so
    that a bad setting stops the start before any process starts."""
    app.config.update(load_config(config))
    return trusted_proxies(app.config)


def read_release(config: Mapping[str, object]) -> dict:
    """The manifest of the release to serve; a directory that is no release stops the start."""
    try:
        return release.read_manifest(Path(str(config["RELEASE_DIR"])))
    except release.NotARelease as err:
        raise ReleaseError(str(err)) from None


def apply_base(app: Flask, manifest: Mapping[str, object]) -> None:
    """``BASE`` (the setting, else the release's, else the default), ending in "/", and the
    prefixes the RDF writers use, made from it."""
    base = str(app.config["BASE"] or manifest.get("base") or DEFAULT_BASE)
    base += "" if base.endswith("/") else "/"
    try:
        ox.NamedNode(base)  # pages bind IRIs made from it: it must be an IRI itself
    except ValueError:
        raise ReleaseError(f"BASE {base!r} is not an absolute IRI") from None
    app.config["BASE"] = base
    app.config["PREFIXES"] = vocab.prefixes(base)  # the Turtle and RDF/XML answers' prefixes


def backing_store(config: Mapping[str, object],
                  manifest: Mapping[str, object]) -> tuple[Store, str, Path | None]:
    """The store that answers queries (embedded Oxigraph in query workers, or a remote
    endpoint), the release id it serves, and the disk cache's file (None: memory only)."""
    if config["STORE"] == "remote":
        if not config["REMOTE_ENDPOINT"]:
            raise ReleaseError("STORE is 'remote' but REMOTE_ENDPOINT is not set")
        store = RemoteStore(str(config["REMOTE_ENDPOINT"]), float(config["REMOTE_TIMEOUT"]),
                            int(config["ROW_CAP"]), _mb(config["MAX_RESPONSE_MB"]))
        # the remote endpoint's data may change under us: memory only
        return store, manifest["release"], None
    store_dir = Path(str(config["STORE_DIR"]))
    release_id = prepare_store(Path(str(config["RELEASE_DIR"])), store_dir, str(config["BASE"]),
                               bool(config["VERIFY_RELEASE"]), str(config["LOADER_ALLOCATOR"]))
    store = EmbeddedStore(store_dir, str(config["BASE"]), int(config["QUERY_WORKERS"]),
                          float(config["QUERY_TIMEOUT"]), int(config["ROW_CAP"]),
                          _mb(config["MAX_RESPONSE_MB"]), int(config["WORKER_MEMORY_MB"]),
                          service_allowlist=list(config["SERVICE_ALLOWLIST"]))
    return store, release_id, store_dir / DISK_FILE  # goes with the store when a release replaces it


def store_chain(config: Mapping[str, object],
                manifest: Mapping[str, object]) -> tuple[GuardedStore, str]:
    """The one door every query goes through, from the inside out: the backing store, the
    per-client fair share, the answer caches, the guard; closed when the process exits."""
    store, release_id, disk = backing_store(config, manifest)

    def cached(fair: Store) -> CachedStore:
        return CachedStore(fair, int(config["CACHE_ENTRIES"]), disk,
                           float(config["CACHE_DISK_MB"]), float(config["CACHE_MEMORY_MB"]))

    guarded = guard_chain(config, store, None if config["STORE"] == "remote"
                          else int(config["QUERY_WORKERS"]), cached)
    on_exit(guarded.close)
    return guarded, release_id


def on_exit(close: Callable[[], None]) -> None:
    """Call ``close`` as this process ends: from ``atexit`` in a process of its own (``serve``,
    a gunicorn worker) and from multiprocessing's own exit in a process it started (a granian
    worker, which ends with ``os._exit`` and so never runs ``atexit``): the query workers
    are told to stop and the federation's socket folder is removed."""
    multiprocessing.util.Finalize(None, close, exitpriority=10)


def guard_chain(config: Mapping[str, object], store: Store, workers: int | None,
                cached: Callable[[Store], CachedStore],
                slots: Path | None = None) -> GuardedStore:
    """``store`` behind the fair share, the answer caches ``cached`` makes, and the guard: the
    order every store of this server is queried through (a series' releases' stores too)."""
    # inside the caches: only the queries that reach the store count against a client's share
    fair = fairness.wrap(store, config, workers, slots)
    return GuardedStore(cached(fair), config["SERVICE_ALLOWLIST"], int(config["MAX_NESTING"]))


def release_app(config: Mapping[str, object], store: GuardedStore, release_id: str,
                manifest: dict) -> Flask:
    """One release's routes over a store chain its caller made: a release of a series, served
    behind the series' dispatcher, which adds the middleware (endpoint/series.py)."""
    app = Flask(__name__)
    app.config.update(config)
    hold_state(app, store, release_id, manifest)
    register_routes(app)
    return app


def hold_state(app: Flask, store: GuardedStore, release_id: str,
               manifest: dict) -> None:
    """What the request handlers read: the store, the release, its example catalogue."""
    release_dir = Path(str(app.config["RELEASE_DIR"]))
    app.extensions[state.KEY] = state.ServerState(
        store=store, release=release_id, manifest=manifest, triples=manifest.get("triples", 0),
        examples=sparql.load_examples(release_dir / release.EXAMPLES))


def register_routes(app: Flask) -> None:
    """Error handlers, the headers of every response, the per-client limits, the blueprints,
    CORS and ``/healthz``."""
    errors.register(app)
    headers.register(app)
    fairness.register(app)
    for blueprint in (sparql.bp, dumps.bp, pages.bp, resources.bp, described.bp,
                      network.bp, changelog.bp):
        app.register_blueprint(blueprint)
    app.after_request(cors)
    app.add_url_rule("/healthz", view_func=healthz, methods=["GET"])


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


def healthz() -> Response:
    """The release served and how far the warm-up has got."""
    held = server_state()
    body = {"status": "ok", "release": held.release, "examples_warmed": held.warmed,
            "examples": len(held.examples), "home_warmed": held.home_warmed}
    return Response(json.dumps(body) + "\n", content_type="application/json")


def add_middleware(app: Flask, trusted: tuple[proxies.Network, ...]) -> None:
    """The replayed responses (when the answer caches are on), then the trusted proxies."""
    config = app.config
    if server_state(app).store.enabled and float(config["CACHE_RESPONSES_MB"]) > 0:
        app.wsgi_app = ResponseCache(app.wsgi_app, _mb(config["CACHE_RESPONSES_MB"]))
    # Keep this wrap last, the outermost middleware: every other one (the per-client limits
    # first) must see the client's address, never the proxy's nor one a client wrote itself.
    app.wsgi_app = proxies.TrustedProxies(app.wsgi_app, trusted)


def start_warm_up(app: Flask) -> None:
    """Answer the examples and the home page's queries in a background thread (WARM_CACHE),
    once the application is whole."""
    held = server_state(app)
    if held.store.enabled and app.config["WARM_CACHE"]:
        sparql.warm(app, held.examples)


def trusted_proxies(config: Mapping[str, object]) -> tuple[proxies.Network, ...]:
    """``TRUSTED_PROXIES`` read, or the start refused with the entry that is wrong."""
    try:
        return proxies.parse_networks(config["TRUSTED_PROXIES"])
    except ValueError as err:
        raise ReleaseError(str(err)) from None


def announcement(app: Flask) -> str:
    """What a started application serves, as ``senacs-kg serve`` announces it: a release, or
    a series and its latest release."""
    from endpoint import series

    running = app.extensions.get(series.SERVER)
    if running is None:
        return f"release {server_state(app).release}"
    held = running.series
    return (f"series {held.folder} ({len(held.releases)} releases, the latest {held.latest.id} "
            "at the plain IRIs, each one under /release/ID/)")
