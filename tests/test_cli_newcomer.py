"""What a newcomer meets first: the command's help, its usage errors, and the README's commands."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

import pytest
import requests
from conftest import SEED, build_release, free_port, senacs_kg, start_server, stop

from mapping.paths import REPO_ROOT

SUBCOMMANDS = ("check", "export-text", "build", "validate", "serve", "network", "diff", "series")
# series is a group: its commands have the options
HELPED = (*(c for c in SUBCOMMANDS if c != "series"), "series status", "series retire")


def readme_options(command: str) -> set[str]:
    """The options the README shows in its `senacs-kg COMMAND …` spans."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    spans = re.findall(rf"`senacs-kg {re.escape(command)}\b([^`]*)`", readme)
    return {option for span in spans for option in re.findall(r"--[a-z][a-z-]*", span)}


@pytest.mark.parametrize("command", HELPED)
def test_every_subcommand_helps_with_the_options_the_readme_shows(command):
    run = senacs_kg(*command.split(), "--help")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"usage: senacs-kg {command} ")
    missing = {option for option in readme_options(command) if option not in run.stdout}
    assert not missing, f"the README shows {sorted(missing)}, `{command} --help` does not"


def test_no_command_lists_the_commands_and_is_a_usage_error():
    """Exit 2 as every usage error (scripts rely on it); the commands go to stderr, stdout
    stays empty, so `senacs-kg > out` does not leave help text in out."""
    run = senacs_kg()
    assert run.returncode == 2
    assert run.stdout == ""
    for command in SUBCOMMANDS:
        assert re.search(rf"^    {re.escape(command)}\b", run.stderr, re.M), run.stderr
    assert run.stderr.rstrip().splitlines()[-1].startswith("senacs-kg: error: no command given")
    assert "Traceback" not in run.stderr


def test_serve_on_a_busy_port_fails_before_announcing_a_url(release_dir, tmp_path):
    """One line naming the port, exit 2, and nothing done first: no URL announced, the store
    (minutes to load on a first start) not even created."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        run = senacs_kg("serve", "--release", str(release_dir), "--store", str(tmp_path / "store"),
                        "--port", str(port))
    assert run.returncode == 2
    assert run.stderr == (f"senacs-kg serve: cannot listen on 127.0.0.1:{port}: port {port} is "
                          "in use by another program (stop it, or pass another --port)\n")
    assert not (tmp_path / "store").exists()


def test_serve_announces_the_port_it_listens_on(release_dir, tmp_path):
    """The URL is announced once the port is held, with the port actually bound (`--port 0`
    lets the system choose), and that URL answers."""
    proc = subprocess.Popen([sys.executable, "-m", "mapping.cli", "serve", "--release",
                             str(release_dir), "--store", str(tmp_path / "store"), "--port", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        line = proc.stderr.readline()
        url = re.fullmatch(r"senacs-kg serve: release \w+ at (http://127\.0\.0\.1:(\d+)/sparql)\n",
                           line)
        assert url and url[2] != "0", line
        assert requests.get(url[1], params={"query": "ASK {}"}, timeout=30).status_code == 200
    finally:
        stop(proc)


def test_check_utf16_on_a_file_without_bom_is_an_input_error(tmp_path, seed_text):
    """A problem of the file (FILE:LINE on stdout, exit 1 like any encoding refusal), not
    "internal error" exit 70."""
    path = tmp_path / "plain.txt"
    path.write_text(seed_text, encoding="utf-8")
    run = senacs_kg("check", "--encoding", "utf-16", str(path))
    assert run.returncode == 1, run.stderr
    assert run.stdout == (f"{path}:1: utf-16 needs a byte-order mark and the file does not start "
                          "with one; the file looks like UTF-8: drop --encoding\n")
    assert "internal error" not in run.stderr


def test_check_and_build_say_a_png_is_not_text(tmp_path):
    """Not an encoding hint (it used to suggest `--encoding latin-1`): the file is named for
    what it is, by `check` and by a refused `build`."""
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01"
                     b"\x08\x00\x00\x00\x00:~\x9bU\x00\x00\x00\nIDATx\x9cc\x00\x00\x00\x02\x00"
                     b"\x01\xe5'\xde\xfc\x00\x00\x00\x00IEND\xaeB`\x82")
    problem = "photo.png:1: not a text file: it starts like a PNG image; an export is plain text"
    check = senacs_kg("check", str(path))
    assert check.returncode == 1
    assert check.stdout.startswith(f"{tmp_path}/{problem}") and "--encoding" not in check.stdout
    build = senacs_kg("build", str(path), "--out", str(tmp_path / "release"))
    assert build.returncode == 1 and not (tmp_path / "release").exists()
    # the report names the file as the release does, by its name
    assert f"  {problem}" in (tmp_path / "release.refused" / "summary.txt").read_text("utf-8")


def _csv_example(text: str) -> tuple[str, ...]:
    """The (--out, nodes file, edges file) an example `--out A writes A and B` names."""
    found = re.search(r"--out ([\w.]+)`? writes `?([\w.]+)`? and `?([\w.]+)", " ".join(text.split()))
    assert found, "no `--out A writes A and B` example"
    return found.groups()


def test_network_csv_writes_the_files_help_and_readme_name(release_dir, tmp_path):
    helped = _csv_example(senacs_kg("network", "--help").stdout)
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    documented = _csv_example(readme[readme.index("## Network analysis"):])
    assert helped == documented
    out, nodes, edges = helped
    run = senacs_kg("network", "--release", str(release_dir), "--format", "csv", "--out", out,
                    cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({nodes, edges})
    assert (tmp_path / nodes).read_text(encoding="utf-8").startswith("id,label,kind,")
    assert (tmp_path / edges).read_text(encoding="utf-8").startswith("source,target,weight\n")
    assert run.stderr.rstrip().endswith(f"wrote {out}, {edges}")


def test_what_build_and_serve_leave_under_data_is_git_ignored(tmp_path):
    """`git status` stays clean after the README's main command: every file a build and a
    server (store, lock, client slots, answer cache) write under data/ is ignored. They are
    written under a temporary data/ here, then checked against the repository's .gitignore."""
    from mapping import release

    data = tmp_path / "data"
    build_release(SEED, data / "build")
    # what a killed build leaves until the next one
    (release.staging_dir(data / "build") / release.DUMP).touch()
    port = free_port()
    server = start_server(data / "build", data / "store", port)
    try:
        assert requests.get(f"http://127.0.0.1:{port}/sparql", params={"query": "ASK {}"},
                            timeout=30).status_code == 200
    finally:
        stop(server)
    written = sorted(f"data/{p.relative_to(data)}" for p in data.rglob("*") if p.is_file())
    assert any(name.startswith("data/.store.") for name in written)  # the lock, the slots
    check = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=REPO_ROOT,
                           input="\n".join(written), capture_output=True, text=True, timeout=30)
    assert check.returncode in (0, 1), check.stderr
    tracked_by_git = sorted(set(written) - set(check.stdout.splitlines()))
    assert not tracked_by_git, f"not git-ignored: {tracked_by_git}"


DCAT = "http://www.w3.org/ns/dcat#"


def test_a_release_built_with_a_local_base_serves_downloads_from_the_local_server(tmp_path):
    """The README's local deployment: `build --base http://127.0.0.1:PORT/`, `serve --port
    PORT`. The served catalog's download URLs and endpoint URL are on that server and answer."""
    import pyoxigraph as ox

    port = free_port()
    local = f"http://127.0.0.1:{port}/"
    build_release(SEED, tmp_path / "release", "--base", local)
    server = start_server(tmp_path / "release", tmp_path / "store", port)
    try:
        served = requests.get(local + "catalog", headers={"Accept": "application/n-triples"},
                              timeout=30)
        assert served.status_code == 200
        triples = list(ox.parse(served.content, format=ox.RdfFormat.N_TRIPLES))
        urls = {t.object.value for t in triples if t.predicate.value == DCAT + "downloadURL"}
        sizes = {t.subject: int(t.object.value) for t in triples
                 if t.predicate.value == DCAT + "byteSize"}
        assert urls and all(url.startswith(local + "dumps/") for url in urls), urls
        for distribution, size in sizes.items():
            [url] = [t.object.value for t in triples if t.subject == distribution
                     and t.predicate.value == DCAT + "downloadURL"]
            download = requests.get(url, timeout=30)
            assert download.status_code == 200 and len(download.content) == size, url
        [endpoint] = [t.object.value for t in triples if t.predicate.value == DCAT + "endpointURL"]
        assert endpoint == local + "sparql"
        assert requests.get(endpoint, params={"query": "ASK {}"}, timeout=30).status_code == 200
    finally:
        stop(server)
