"""Configuration: defaults, then a TOML file, then ``SENACS_KG_*`` environment variables, then
what the caller passes to ``create_app``; later sources win.

Every setting has a type, and every value is read as that type whatever its source:
``SENACS_KG_WARM_CACHE=false`` (or ``False``, ``0``, ``no``) is the boolean false, not the
non-empty string "False"; ``SENACS_KG_QUERY_TIMEOUT=2.5`` a number;
``SENACS_KG_SERVICE_ALLOWLIST='["https://query.wikidata.org/sparql"]'`` a JSON list. An unknown
name (a misspelt setting) or a value of the wrong type is a ConfigError that names it, and the
server does not start: a setting silently ignored is a security setting not applied.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mapping.paths import BUILD_DIR, DATA_DIR

PREFIX = "SENACS_KG_"
CONFIG_FILE = "CONFIG_FILE"  # names the TOML file; not a setting itself


class ConfigError(ValueError):
    """A setting is unknown or its value is not of its type: the server does not start."""


@dataclass(frozen=True)
class Settings:
    """The server's settings, typed; ``as_config()`` gives them by their upper-case names."""

    release_dir: str = str(BUILD_DIR)  # the release to serve
    store_dir: str = str(DATA_DIR / "store")  # the on-disk Oxigraph store built from it
    # A release series to serve instead (``serve --series``, endpoint/series.py): every release,
    # each in its own store STORE_DIR/{id}, at most SERIES_OPEN_STORES of them open at once
    # (the latest's among them, always open), series.json looked at every SERIES_CHECK_SECONDS
    series_dir: str | None = None
    series_open_stores: int = 2
    series_check_seconds: float = 2.0
    base: str | None = None  # the IRI base request paths are mapped onto (default: the release's)
    store: str = "embedded"  # or "remote"
    remote_endpoint: str | None = None  # a SPARQL 1.1 endpoint URL for the remote store
    remote_timeout: float = 30.0
    query_timeout: float = 10.0  # seconds; the query is stopped, the client gets a 503
    query_workers: int = 2  # processes answering queries (a runaway blocks only one)
    # Fair share (endpoint/fairness.py): uncached queries of one client address at once, across
    # every server process (0: no limit); in one process at most QUERY_WORKERS - 1 of them
    client_queries: int = 2
    queue_length: int = 4  # more uncached queries of one client that may wait for its turn
    queue_wait: float = 5.0  # seconds one of them waits at most; then, or beyond the queue, 429
    row_cap: int = 10_000  # rows (or triples) at most per result, signalled when reached
    max_response_mb: float = 25  # bytes of an answer (JSON results, N-Triples), like ROW_CAP
    worker_memory_mb: int = 2048  # memory of each query worker; a query over it is stopped (503)
    max_nesting: int = 64  # brackets and unary operators nested in a query (400 beyond)
    max_query_length: int = 32_768  # characters
    max_content_length: int = 1_048_576  # bytes of request body (Flask enforces it: 413)
    service_allowlist: list[str] = field(default_factory=list)  # endpoints SERVICE may call
    cache_entries: int = 512  # answers kept in each server process's memory (0: none)
    cache_memory_mb: float = 64  # and the bytes they may take there (0: none)
    cache_disk_mb: float = 512  # answers on disk beside the store (the files, WAL included)
    cache_responses_mb: float = 64  # whole GET responses replayed by each process (0: none)
    warm_cache: bool = True  # answer the example catalogue and the home page in the background
    warm_timeout: float = 600.0  # seconds each of those may take (they run once per release)
    verify_release: bool = True  # check the release's checksums before loading it
    # the store's loader (endpoint/loader.py): on jemalloc where the system has it, or on glibc's
    loader_allocator: str = "jemalloc"
    trusted_proxies: list[str] = field(default_factory=list)  # their X-Forwarded-* are believed

    def as_config(self) -> dict[str, object]:
        return {name.upper(): value for name, value in dataclasses.asdict(self).items()}


FIELDS = {f.name.upper(): f for f in dataclasses.fields(Settings)}
# the settings that name one of a few things: any other value stops the start (a misspelt
# "remote" would otherwise serve the embedded store)
CHOICES: dict[str, tuple[str, ...]] = {"STORE": ("embedded", "remote"),
                                       "LOADER_ALLOCATOR": ("jemalloc", "system")}
DEFAULTS: dict[str, object] = Settings().as_config()
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


def _typed(name: str, value: object, kind: str, source: str) -> object:
    """``value`` as the setting's type (``kind`` is the annotation's text), or ConfigError."""
    given = value

    def wrong() -> ConfigError:
        return ConfigError(f"{source}: {name}={given!r} is not {_described(kind)}")

    if value is None:
        if "None" in kind:
            return None
        raise wrong()
    if isinstance(value, str) and source == "environment" and kind.startswith("str"):
        if len(value) >= 2 and value[0] == value[-1] == '"':  # a JSON string, as JSON is allowed
            try:
                return str(json.loads(value))
            except ValueError:
                return value
        return value
    if isinstance(value, str) and source == "environment":
        text = value.strip()
        if kind == "bool" and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        try:
            value = json.loads(text)
        except ValueError:
            raise wrong() from None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise wrong()
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise wrong()
    if kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise wrong()
    if kind == "list[str]":
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise wrong()
    if isinstance(value, str):  # str, str | None
        return value
    raise wrong()


def _described(kind: str) -> str:
    return {"bool": "true or false", "int": "a whole number", "float": "a number",
            "list[str]": 'a JSON list of strings (["…", "…"])', "str": "a string",
            "str | None": "a string"}.get(kind, kind)


def _setting(name: str, source: str) -> dataclasses.Field:
    found = FIELDS.get(name)
    if found is None:
        near = difflib.get_close_matches(name, FIELDS, n=1)
        hint = f" (did you mean {PREFIX if source == 'environment' else ''}{near[0]}?)" \
            if near else ""
        shown = PREFIX + name if source == "environment" else name
        raise ConfigError(f"{source}: unknown setting {shown}{hint}")
    return found


def load_settings(overrides: Mapping[str, object] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from every source, each value checked against its type."""
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    values: dict[str, object] = {}
    sources: list[tuple[str, Mapping[str, object]]] = []
    config_file = overrides.get(CONFIG_FILE) or environ.get(PREFIX + CONFIG_FILE)
    if config_file:
        try:
            with Path(str(config_file)).open("rb") as handle:
                table = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise ConfigError(f"{config_file}: cannot read the settings file: {err}") from None
        sources.append((str(config_file), {k.upper(): v for k, v in table.items()}))
    sources.append(("environment", {k[len(PREFIX):]: v for k, v in environ.items()
                                    if k.startswith(PREFIX) and k != PREFIX + CONFIG_FILE}))
    sources.append(("create_app", {k.upper(): v for k, v in overrides.items()
                                   if k.upper() != CONFIG_FILE and v is not None}))
    for source, given in sources:
        for name, value in given.items():
            setting = _setting(name, source)
            values[setting.name] = _typed(name, value, str(setting.type), source)
            allowed = CHOICES.get(setting.name.upper())
            if allowed and values[setting.name] not in allowed:
                raise ConfigError(f"{source}: {name}={value!r} is not one of "
                                  f"{', '.join(allowed)}")
    return Settings(**values)


def load_config(overrides: Mapping[str, object] | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """The settings by their upper-case names, as Flask's ``app.config`` holds them."""
    return load_settings(overrides, environ).as_config()
