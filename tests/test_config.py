"""Configuration: defaults, then a TOML file, then SENACS_KG_* variables, then the caller's mapping."""

from __future__ import annotations

from endpoint.config import DEFAULTS, load_config


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
