"""Configuration: defaults, then a TOML file, then ``SENACS_KG_*`` environment variables, then
what the caller passes to ``create_app``; later sources win.

Environment values are read as JSON where they parse (``SENACS_KG_QUERY_TIMEOUT=2.5``,
``SENACS_KG_SERVICE_ALLOWLIST='["https://query.wikidata.org/sparql"]'``), else as strings.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from mapping.paths import BUILD_DIR, DATA_DIR

PREFIX = "SENACS_KG_"

DEFAULTS: dict[str, object] = {
    "RELEASE_DIR": str(BUILD_DIR),  # the release to serve
    "STORE_DIR": str(DATA_DIR / "store"),  # the on-disk Oxigraph store built from it
    "BASE": None,  # the IRI base request paths are mapped onto (default: the release's)
    "STORE": "embedded",  # or "remote"
    "REMOTE_ENDPOINT": None,  # a SPARQL 1.1 endpoint URL for the remote store
    "REMOTE_TIMEOUT": 30,
    "QUERY_TIMEOUT": 10.0,  # seconds; the query is stopped, the client gets a 503
    "QUERY_WORKERS": 2,  # processes answering queries (a runaway blocks only one)
    # Fair share (endpoint/fairness.py): uncached queries of one client address at once, across
    # every server process (0: no limit); in one process at most QUERY_WORKERS - 1 of them
    "CLIENT_QUERIES": 2,
    "QUEUE_LENGTH": 4,  # more uncached queries of one client that may wait for its turn
    "QUEUE_WAIT": 5.0,  # seconds one of them waits at most; then, or beyond the queue, 429
    "ROW_CAP": 10_000,  # rows (or triples) at most per result, signalled when reached
    "MAX_RESPONSE_MB": 25,  # bytes of an answer (JSON results, N-Triples), signalled like ROW_CAP
    "WORKER_MEMORY_MB": 2048,  # memory of each query worker; a query over it is stopped (503)
    "MAX_NESTING": 64,  # brackets and unary operators nested in a query (400 beyond)
    "MAX_QUERY_LENGTH": 32_768,  # characters
    "MAX_CONTENT_LENGTH": 1_048_576,  # bytes of request body (Flask enforces it: 413)
    "SERVICE_ALLOWLIST": [],  # endpoint IRIs SERVICE may call; none by default
    "CACHE_ENTRIES": 512,  # answers kept in each server process's memory (0: none)
    "CACHE_MEMORY_MB": 64,  # and the bytes they may take there (0: none)
    "CACHE_DISK_MB": 512,  # answers on disk beside the store (the files, WAL included), shared
    "CACHE_RESPONSES_MB": 64,  # whole GET query responses replayed by each process (0: none)
    "WARM_CACHE": True,  # answer the example catalogue and the home page in the background
    "WARM_TIMEOUT": 600.0,  # seconds each of those may take (they run once per release)
    "VERIFY_RELEASE": True,  # check the release's checksums before loading it
    "TRUSTED_PROXIES": [],  # addresses or networks whose X-Forwarded-For/-Proto/-Host are believed
}


def _parse(value: str):
    try:
        return json.loads(value)
    except ValueError:
        return value


def load_config(overrides: Mapping[str, object] | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, object]:
    environ = os.environ if environ is None else environ
    config = dict(DEFAULTS)
    config_file = (overrides or {}).get("CONFIG_FILE") or environ.get(PREFIX + "CONFIG_FILE")
    if config_file:
        with Path(str(config_file)).open("rb") as handle:
            config.update({k.upper(): v for k, v in tomllib.load(handle).items()})
    for key, value in environ.items():
        if key.startswith(PREFIX) and key != PREFIX + "CONFIG_FILE":
            config[key[len(PREFIX):]] = _parse(value)
    config.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return config
