"""Configuration: defaults, then a TOML file, then SENACS_KG_* variables, then the caller's mapping."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from endpoint.config import DEFAULTS, ConfigError, load_config


def test_defaults_apply_without_anything():
    config = load_config({}, environ={})
    assert config["QUERY_TIMEOUT"] == DEFAULTS["QUERY_TIMEOUT"] == 10.0
    assert config["SERVICE_ALLOWLIST"] == []


def test_file_then_environment_then_caller(tmp_path):
    path = tmp_path / "senacs.toml"
    path.write_text('query_timeout = 3\nrow_cap = 50\nservice_allowlist = ["https://a.example/sparql"]\n',
                    encoding="utf-8")
    environ = {"SENACS_KG_CONFIG_FILE": str(path), "SENACS_KG_ROW_CAP": "70",
               "SENACS_KG_STORE_DIR": "/srv/store", "OTHER": "x"}
    config = load_config({"QUERY_WORKERS": 4}, environ=environ)
    assert config["QUERY_TIMEOUT"] == 3  # from the file
    assert config["SERVICE_ALLOWLIST"] == ["https://a.example/sparql"]
    assert config["ROW_CAP"] == 70  # the environment wins over the file (JSON value)
    assert config["STORE_DIR"] == "/srv/store"  # a plain string stays a string
    assert config["QUERY_WORKERS"] == 4  # the caller wins over everything
    assert "OTHER" not in config
    assert load_config({"ROW_CAP": 5}, environ=environ)["ROW_CAP"] == 5


def test_values_are_read_as_their_type_whatever_the_source():
    config = load_config({}, environ={"SENACS_KG_WARM_CACHE": "False",
                                      "SENACS_KG_VERIFY_RELEASE": "0",
                                      "SENACS_KG_QUERY_WORKERS": "3",
                                      "SENACS_KG_QUEUE_WAIT": "2",
                                      "SENACS_KG_STORE_DIR": '"/srv/quoted"',
                                      "SENACS_KG_TRUSTED_PROXIES": '["10.0.0.0/8"]'})
    assert config["WARM_CACHE"] is False  # not the string "False", which is true
    assert config["VERIFY_RELEASE"] is False
    assert config["QUERY_WORKERS"] == 3 and config["QUEUE_WAIT"] == 2.0
    assert config["STORE_DIR"] == "/srv/quoted"
    assert config["TRUSTED_PROXIES"] == ["10.0.0.0/8"]


@pytest.mark.parametrize("environ,message", [
    ({"SENACS_KG_QUERY_TIMOUT": "2"}, "unknown setting SENACS_KG_QUERY_TIMOUT (did you mean "
                                      "SENACS_KG_QUERY_TIMEOUT?)"),
    ({"SENACS_KG_QUERY_TIMEOUT": "soon"}, "QUERY_TIMEOUT='soon' is not a number"),
    ({"SENACS_KG_WARM_CACHE": "perhaps"}, "WARM_CACHE='perhaps' is not true or false"),
    ({"SENACS_KG_SERVICE_ALLOWLIST": "https://a.example/"}, "is not a JSON list of strings"),
    ({"SENACS_KG_QUERY_WORKERS": "2.5"}, "QUERY_WORKERS='2.5' is not a whole number"),
    # a setting that names one of a few things: a misspelt one is not read as the default
    ({"SENACS_KG_STORE": "remot"}, "STORE='remot' is not one of embedded, remote"),
    ({"SENACS_KG_LOADER_ALLOCATOR": "tcmalloc"},
     "LOADER_ALLOCATOR='tcmalloc' is not one of jemalloc, system"),
])
def test_an_unknown_or_mistyped_setting_stops_the_start(environ, message):
    with pytest.raises(ConfigError) as refused:
        load_config({}, environ=environ)
    assert message in str(refused.value)


def test_a_mistyped_setting_in_the_file_or_from_the_caller_is_refused(tmp_path):
    path = tmp_path / "senacs.toml"
    path.write_text('row_cap = "many"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="ROW_CAP='many' is not a whole number"):
        load_config({"CONFIG_FILE": str(path)}, environ={})
    with pytest.raises(ConfigError, match="unknown setting ROWCAP"):
        load_config({"ROWCAP": 3}, environ={})


@pytest.mark.parametrize("name, value, message", [
    ("WARM_CACH", "false", "unknown setting SENACS_KG_WARM_CACH (did you mean "
                           "SENACS_KG_WARM_CACHE?)"),
    ("LOADER_ALLOCATOR", "tcmalloc", "LOADER_ALLOCATOR='tcmalloc' is not one of jemalloc, system"),
])
def test_serve_with_a_misspelt_setting_says_so_in_one_line_before_any_load(
        name, value, message, release_dir, tmp_path):
    env = dict(os.environ, **{f"SENACS_KG_{name}": value})
    run = subprocess.run([sys.executable, "-m", "mapping.cli", "serve", "--release",
                          str(release_dir), "--store", str(tmp_path / "store")],
                         capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 2
    assert run.stderr == f"senacs-kg serve: environment: {message}\n"
    assert not (tmp_path / "store").exists()
