"""``senacs-kg``: the command-line door to the project.

Exit statuses are a contract (scripts rely on them): see ``../shared/DESIGN.md``.
Users get ``FILE:LINE: message`` lines and one-line errors, never a traceback.
"""

from __future__ import annotations

import argparse
import codecs
import errno
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from mapping.reader import ExportFile
from mapping.vocab import DEFAULT_BASE

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
EXIT_INTERNAL = 70  # EX_SOFTWARE


class UsageError(Exception):
    """Bad arguments: reported in one line, exit status 2."""


def _encoding(value: str) -> str:
    try:
        return codecs.lookup(value).name
    except LookupError:
        raise argparse.ArgumentTypeError(f"unknown encoding: {value}") from None


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return number


def _iso_date(value: str) -> str:
    import datetime

    try:
        return datetime.date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {value}") from None


def _web_iri(value: str) -> str:
    """An absolute http(s) IRI with no character that N-Triples cannot hold."""
    if not value.startswith(("http://", "https://")) or any(c in value for c in ' <>"{}|\\^`') \
            or any(ord(c) < 0x21 for c in value):
        raise argparse.ArgumentTypeError(f"not an http(s) IRI: {value!r}")
    return value


def _port(value: str) -> int:
    """A TCP port; 0 lets the system choose a free one (the announced URL names it)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port (0-65535): {value}")
    return number


def _email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not (local and at and "." in domain) or any(c in value for c in ' <>"\\') \
            or any(ord(c) < 0x21 for c in value):
        raise argparse.ArgumentTypeError(f"not an e-mail address: {value!r}")
    return value


def _existing_files(paths: Sequence[str]) -> list[Path]:
    out = []
    for name in paths:
        path = Path(name)
        if not path.is_file():
            raise UsageError(f"{name}: no such file")
        out.append(path)
    return out


def cmd_check(args: argparse.Namespace) -> int:
    """Read exports and print every problem as FILE:LINE: message."""
    errors = warnings = records = 0
    out = sys.stdout
    for path in _existing_files(args.files):
        export = ExportFile(path, args.encoding)
        for record in export.records():
            records += 1
            for problem in record.problems:
                print(problem, file=out)
                errors += problem.severity == "error"
                warnings += problem.severity == "warning"
        for problem in export.problems:
            print(problem, file=out)
            errors += problem.severity == "error"
            warnings += problem.severity == "warning"
    print(f"senacs-kg check: {len(args.files)} file(s), {records} record(s): "
          f"{errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return EXIT_PROBLEMS if errors else EXIT_OK


def _release_dump(folder: Path) -> Path:
    """A release directory's canonical dump (``dataset.nt.gz``; ``dataset.nt`` in a release
    built before), or the name it would have, for the one-line error that follows."""
    from mapping import release

    return release.dump_file(folder) or folder / release.DUMP_GZ


def _load_graph(name: str):
    """An RDF file, or a release directory's canonical dump, parsed; UsageError when unreadable."""
    from rdflib import Graph
    from rdflib.util import guess_format

    from mapping import release

    path = Path(name)
    if path.is_dir():
        path = _release_dump(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file (expected an RDF file or a release directory)")
    fmt = guess_format(str(path).removesuffix(".gz")) or "turtle"
    graph = Graph()
    try:
        with release.open_dump(path) as source:  # a gzipped file by its name
            graph.parse(source=source, format=fmt)
    except Exception as err:  # rdflib raises many kinds; the user gets one line
        raise UsageError(f"{path}: not readable as {fmt}: {str(err).splitlines()[0]}") from None
    return graph


def cmd_export_text(args: argparse.Namespace) -> int:
    """Render the records of a graph back into the export format."""
    from mapping.export_text import GraphReader
    from mapping.vocab import Iris

    reader = GraphReader(_load_graph(args.source), Iris(args.base))
    files = list(reader.files())
    if not files:
        raise UsageError(f"{args.source}: the graph holds no source file (senacs:SourceFile)")
    if args.out is None:
        for _, text in files:
            sys.stdout.write(text)
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, text in files:
            (args.out / name).write_bytes(text.encode("utf-8"))
        print(f"senacs-kg export-text: {len(files)} file(s) written to {args.out}", file=sys.stderr)
    return EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    """Read, map, validate and publish a release (into a series with --series)."""
    from mapping import series
    from mapping.build import BuildConfig, build
    from mapping.paths import BUILD_DIR, default_sources

    _check_series_options(args)
    allocator = _loader_allocator() if args.store is not None else None  # before the build
    sources = _existing_files(args.files) if args.files else default_sources()
    if not sources:
        raise UsageError("no input: name export files or put them in data/source/")
    config = BuildConfig(sources=sources, out=args.out or BUILD_DIR, base=args.base,
                         encoding=args.encoding, engine=args.engine, batch_size=args.batch_size,
                         allow_input_errors=args.allow_input_errors,
                         release_date=args.release_date,
                         renames=_existing_files([args.renames])[0] if args.renames else None)
    info = config.dataset_info
    info.publisher_name = args.publisher or info.publisher_name
    info.contact_email, info.license = args.contact_email, args.license
    info.rights = args.rights or info.rights
    if args.workers:
        config.workers = args.workers
    try:
        if args.series is None:
            outcome = build(config)
        else:
            outcome = series.publish(config, args.series, args.release_id)
    except series.SeriesError as err:
        print(f"senacs-kg build: refused: {err}", file=sys.stderr)
        return EXIT_PROBLEMS
    except ValueError as err:
        raise UsageError(str(err)) from None
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in outcome.timings.items())
    print(f"senacs-kg build: {outcome.records} record(s), {outcome.violations} violation(s), "
          f"{outcome.warnings} warning(s), {outcome.input_errors} input error(s); {timing}",
          file=sys.stderr)
    if not outcome.published:
        print(f"senacs-kg build: refused ({outcome.reason}); nothing published. Report: "
              f"{outcome.folder}/summary.txt", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"senacs-kg build: published {outcome.folder}", file=sys.stderr)
    if args.store is not None:
        store = args.store / args.release_id if args.series is not None else args.store
        return _prepare_store(Path(outcome.folder), store, args.base, args.store, allocator)
    return EXIT_OK


def _loader_allocator() -> str:
    """What the server's settings (file, environment) give its store's loader to allocate
    with: ``build --store`` loads the store the server opens. Read before the build, so that a
    bad setting costs no build."""
    from endpoint.config import ConfigError, load_settings

    try:
        return load_settings().loader_allocator
    except ConfigError as err:
        raise UsageError(f"--store: {err}") from None


def _prepare_store(release_dir: Path, store_dir: Path, base: str, served: Path,
                   allocator: str) -> int:
    """``build --store``: load the new release into the store ``serve`` will open, so that the
    server answers as soon as it starts (the load is the long part of a first start)."""
    from endpoint.store import ReleaseError, prepare_store

    print(f"senacs-kg build: loading the store {store_dir} (on 2 cores, about 35 s for 100,000 "
          "records, 7 minutes for 1,000,000)", file=sys.stderr)
    start = time.perf_counter()
    try:
        prepare_store(release_dir, store_dir, base, allocator=allocator)
    except ReleaseError as err:
        print(f"senacs-kg build: the store was not loaded: {err}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"senacs-kg build: store ready in {time.perf_counter() - start:.1f} s (serve with "
          f"--store {served})", file=sys.stderr)
    return EXIT_OK


def _check_series_options(args: argparse.Namespace) -> None:
    """--series and --release-id go together, and not with --out."""
    if args.series is not None and args.out is not None:
        raise UsageError("--out and --series exclude each other: a series names its releases' "
                         "folders (DIR/ID)")
    if (args.series is None) != (args.release_id is None):
        raise UsageError("--series DIR and --release-id ID go together")


def _release_id(value: str) -> str:
    from mapping.release import is_release_id

    if not is_release_id(value):
        raise argparse.ArgumentTypeError(f"not a release id (YYYY or YYYY-N, e.g. 2025 or "
                                         f"2025-2): {value!r}")
    return value


def cmd_validate(args: argparse.Namespace) -> int:
    """SHACL-validate a release or an RDF file."""
    from rdflib import Graph

    from mapping import release, shacl
    from mapping.build import shapes_text

    path = Path(args.source)
    base = args.base
    if path.is_dir():
        manifest = path / release.MANIFEST
        if manifest.is_file():
            damaged = release.verify(path)
            if damaged:
                print(f"senacs-kg validate: {path}: the release is damaged, its files do not "
                      "match manifest.json:", file=sys.stderr)
                for line in damaged:
                    print(f"  {line}", file=sys.stderr)
                return EXIT_USAGE
            base = release.read_manifest(path).get("base", base)
        path = _release_dump(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file (expected an RDF file or a release directory)")
    shapes = Graph().parse(args.shapes, format="turtle") if args.shapes else \
        Graph().parse(data=shapes_text(base), format="turtle")
    try:
        report = shacl.validate(path, shapes, base=base)
    except shacl.UnknownFormat as err:
        raise UsageError(str(err)) from None
    except shacl.UnreadableData as err:
        print(f"senacs-kg validate: {err}", file=sys.stderr)
        return EXIT_USAGE
    print(report.summary, end="")
    return EXIT_PROBLEMS if report.violations else EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    """What changed between two releases; the changeset files with --out."""
    from mapping import diff

    def show(change: diff.Change) -> None:
        fields = ", ".join(diff.short_name(f, base) for f in change.fields)
        print(f"{change.status} {change.kind} {change.iri}" + (f": {fields}" if fields else ""))

    try:
        base = diff.side_of(args.new)[1].get("base", DEFAULT_BASE)
        totals = diff.diff_releases(args.old, args.new, args.out, show)
    except diff.DiffError as err:
        print(f"senacs-kg diff: {err}", file=sys.stderr)
        return EXIT_USAGE
    written = f"; the changeset is in {args.out}" if args.out else ""
    print(f"senacs-kg diff: {totals.line()}{written}", file=sys.stderr)
    return EXIT_OK


def cmd_series_status(args: argparse.Namespace) -> int:
    """What each release of a series takes on disk (and its store)."""
    import json as json_module

    from mapping import series, series_admin

    try:
        use = series_admin.status(args.folder, args.store or _default_store_root())
    except series.SeriesError as err:
        print(f"senacs-kg series status: {err}", file=sys.stderr)
        return EXIT_PROBLEMS
    if args.json:
        print(json_module.dumps(use.as_json(), indent=1, ensure_ascii=False))
    else:
        sys.stdout.write(series_admin.status_text(use))
    return EXIT_OK


def _default_store_root() -> Path:
    """Where ``serve --series`` keeps the stores when no ``--store`` is given (STORE_DIR's
    default: ``SENACS_KG_STORE_DIR`` and the config file are the server's, not read here)."""
    from mapping.paths import DATA_DIR

    return DATA_DIR / "store"


def cmd_series_retire(args: argparse.Namespace) -> int:
    """Free an old release's space, keeping its manifest and its changeset."""
    from endpoint.store import MARKER
    from mapping import series, series_admin

    try:
        done = series_admin.retire(args.folder, args.release_id, args.store,
                                   dry_run=args.dry_run, store_marker=MARKER)
    except series.SeriesError as err:
        print(f"senacs-kg series retire: refused: {err}", file=sys.stderr)
        return EXIT_PROBLEMS
    if done.store_note:
        print(f"senacs-kg series retire: {done.store_note}", file=sys.stderr)
    print(f"senacs-kg series retire: {done.line(args.dry_run)}", file=sys.stderr)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve a release for development (production: granian, see the README)."""
    # The one place mapping reaches the endpoint: the CLI is the single user door (imported
    # here, not at the top, so the other commands do not load Flask and the server).
    from werkzeug.serving import make_server

    from endpoint import app as endpoint
    from endpoint import config as settings
    from endpoint import store

    listener = _listen(args.host, args.port)
    if listener is None:
        return EXIT_USAGE
    # SIGTERM (systemd, docker stop, kill) stops it as Ctrl-C does, from here on: a load in
    # progress is stopped and its files removed; once serving, serve_forever returns and the
    # exit handlers run (they end the query workers and remove the federation's socket
    # folder). Python's default for SIGTERM ends the process without them.
    signal.signal(signal.SIGTERM, _interrupt)
    with listener:
        try:
            app = endpoint.create_app(_serve_settings(args))
        except (store.ReleaseError, settings.ConfigError) as err:
            print(f"senacs-kg serve: {err}", file=sys.stderr)
            return EXIT_USAGE
        # werkzeug serves on a duplicate of the bound socket; ours is closed on leaving
        server = make_server(args.host, args.port, app, threaded=True, fd=listener.fileno())
    print(f"senacs-kg serve: {endpoint.announcement(app)} at http://{args.host}:{server.port}/sparql",
          file=sys.stderr, flush=True)
    server.log_startup()
    server.serve_forever()  # returns on Ctrl-C or SIGTERM
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second one ends it at once
    return EXIT_OK


class Terminated(KeyboardInterrupt):
    """SIGTERM, taken as Ctrl-C is (serve): the same clean-up, its own exit status."""


def _interrupt(signum: int, frame: object) -> None:
    raise Terminated


def _serve_settings(args: argparse.Namespace) -> dict[str, object]:
    """The command line's settings; the others come from SENACS_KG_* (see endpoint.config)."""
    config: dict[str, object] = {}
    if args.release:
        config["RELEASE_DIR"] = str(args.release)
    if args.series:
        config["SERIES_DIR"] = str(args.series)
    if args.store:
        config["STORE_DIR"] = str(args.store)
    if args.base:
        config["BASE"] = args.base
    return config


def _listen(host: str, port: int) -> socket.socket | None:
    """The server's socket, bound first: a busy port fails at once, in one line, before the
    store is loaded (minutes on a first start) and before any URL is announced."""
    from werkzeug.serving import LISTEN_QUEUE, get_sockaddr, select_address_family

    try:
        family = select_address_family(host, port)
        return socket.create_server(get_sockaddr(host, port, family), family=family,
                                    backlog=LISTEN_QUEUE)
    except OSError as err:
        print(f"senacs-kg serve: cannot listen on {host}:{port}: {_why(err, port)}",
              file=sys.stderr)
        return None


def _why(err: OSError, port: int) -> str:
    """The reason a bind failed, in one line (no Python wording, no address tuple)."""
    if err.errno == errno.EADDRINUSE:
        return f"port {port} is in use by another program (stop it, or pass another --port)"
    if err.errno is None or err.errno < 0:  # getaddrinfo's codes are negative
        return "cannot resolve this host name"
    return os.strerror(err.errno)


def cmd_network(args: argparse.Namespace) -> int:
    """Shared-partner networks, from a release or from a SPARQL endpoint."""
    import json as json_module

    from analysis import network, sources
    from mapping import release
    from mapping.paths import BUILD_DIR

    if args.endpoint:
        select, base = sources.endpoint_select(args.endpoint), args.base or DEFAULT_BASE
    else:
        release_dir = args.release or BUILD_DIR
        if release.dump_file(release_dir) is None:
            raise UsageError(f"{release_dir}: no release here (build one with `senacs-kg build`)")
        try:
            base = args.base or sources.release_base(release_dir)
        except release.NotARelease as err:
            raise UsageError(str(err)) from None
        select = sources.release_select(release_dir)
    try:
        networks = network.fetch(select, base, categories=args.categories)
    except Exception as err:  # an unreachable or failing endpoint: one line
        raise UsageError(f"could not read the network: {err}") from None
    graph = getattr(networks, args.graph)
    stats = network.annotate(graph)
    written = network.write(graph, args.format, args.out)
    print(f"senacs-kg network: {args.graph}: " + json_module.dumps(stats) + "; wrote "
          + ", ".join(str(p) for p in written), file=sys.stderr)
    return EXIT_OK


Subcommands = "argparse._SubParsersAction[argparse.ArgumentParser]"


def build_parser() -> argparse.ArgumentParser:
    """The ``senacs-kg`` parser: one small function per subcommand adds its arguments."""
    parser = argparse.ArgumentParser(
        prog="senacs-kg",
        description="Knowledge graph and linked-data publisher for SENACS 'fiches actions'.")
    # not required=True: argparse would then only say "required: COMMAND"; main() lists them
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_check, _add_export_text, _add_build, _add_validate, _add_diff, _add_series,
                _add_serve, _add_network):
        add(sub)
    return parser


def _add_check(sub: Subcommands) -> None:
    check = sub.add_parser(
        "check", help="read exports and report every problem as FILE:LINE: message",
        description="Read SENACS text exports and print every problem as FILE:LINE: message. "
                    "Exit status: 0 clean (warnings allowed), 1 problems, 2 usage error.")
    check.add_argument("files", nargs="+", metavar="FILE", help="SENACS text export(s)")
    check.add_argument("--encoding", type=_encoding, default=None,
                       help="read the files in this encoding instead of refusing non-UTF-8 "
                            "(e.g. cp1252, latin-1)")
    check.set_defaults(func=cmd_check)


def _add_export_text(sub: Subcommands) -> None:
    export = sub.add_parser(
        "export-text", help="render the records of a graph back into the export format",
        description="Render the records of an RDF file (N-Triples, Turtle, JSON-LD…) or of a "
                    "release directory back into the SENACS export format, from the graph alone.")
    export.add_argument("source", metavar="DIR_OR_FILE")
    export.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="write one file per source export into DIR (default: stdout)")
    export.add_argument("--base", default=DEFAULT_BASE,
                        help=f"the IRI base the graph was built with (default {DEFAULT_BASE})")
    export.set_defaults(func=cmd_export_text)


def _add_build(sub: Subcommands) -> None:
    build = sub.add_parser(
        "build", help="read, map, validate and publish a release",
        description="Read SENACS exports, map them to RDF, validate them with SHACL and write a "
                    "release directory atomically, or publish it into a release series "
                    "(--series). Exit status: 0 published, 1 refused (nothing published), "
                    "2 usage error.")
    build.add_argument("files", nargs="*", metavar="FILE",
                       help="SENACS text export(s) (default: data/source/*.txt)")
    build.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help="the release directory (default: data/build)")
    build.add_argument("--base", default=DEFAULT_BASE, help=f"IRI base (default {DEFAULT_BASE})")
    build.add_argument("--encoding", type=_encoding, default=None,
                       help="read the files in this encoding instead of refusing non-UTF-8")
    build.add_argument("--engine", choices=("sparql", "pyshacl"), default="sparql",
                       help="SHACL engine: the shapes as SPARQL on Oxigraph (default, fast) or "
                            "pySHACL (the reference, slow)")
    build.add_argument("--batch-size", type=_positive, default=500, metavar="N",
                       help="records validated together (default 500)")
    build.add_argument("--workers", type=_positive, default=None, metavar="N",
                       help="validation processes (default: up to 2, one per core)")
    build.add_argument("--allow-input-errors", action="store_true",
                       help="publish even when records have input errors (they are kept "
                            "verbatim and listed in the report)")
    build.add_argument("--release-date", type=_iso_date, default=None, metavar="YYYY-MM-DD",
                       help="the release's date, written in its metadata (never taken from the "
                            "clock, so that same inputs give the same bytes)")
    build.add_argument("--renames", default=None, metavar="FILE",
                       help="structures renamed between campaigns, so that they keep their IRI "
                            "(default: data/reference/overrides/renames.csv)")
    series = build.add_argument_group("release series")
    series.add_argument("--series", type=Path, default=None, metavar="DIR",
                        help="publish the release into this series as DIR/ID, with its "
                             "changeset against the latest release, and update DIR/series.json "
                             "in the same atomic step (exclusive with --out)")
    series.add_argument("--release-id", type=_release_id, default=None, metavar="ID",
                        help="the release's id in the series: a campaign year (2025) or a year "
                             "and a number (2025-2); an id the series has, or one before its "
                             "latest, is refused")
    build.add_argument("--store", type=Path, default=None, metavar="DIR",
                       help="also load the published release into the Oxigraph store that "
                            "`serve --store DIR` opens (with --series: DIR/ID, as `serve "
                            "--series --store DIR`), so that the server answers as soon as it "
                            "starts")
    _add_catalog_options(build)
    build.set_defaults(func=cmd_build)


def _add_catalog_options(build: argparse.ArgumentParser) -> None:
    meta = build.add_argument_group("catalog (DCAT-AP) metadata")
    meta.add_argument("--publisher", default=None, metavar="NAME",
                      help="the publisher's name (default: senacs-kg)")
    meta.add_argument("--contact-email", type=_email, default=None, metavar="ADDRESS",
                      help="the dataset's contact point (default: none)")
    meta.add_argument("--license", type=_web_iri, default=None, metavar="IRI",
                      help="the licence granted on the data, as an IRI (default: none is "
                           "claimed: the senacs.fr usage charter restricts reuse)")
    meta.add_argument("--rights", default=None, metavar="TEXT",
                      help="the rights statement, in French (default: the data come from "
                           "SENACS, their reuse is subject to its usage charter, no licence is "
                           "granted)")


def _add_validate(sub: Subcommands) -> None:
    validate = sub.add_parser(
        "validate", help="SHACL-validate a release or an RDF file",
        description="Validate a release directory (its dataset.nt.gz, after checking its files "
                    "against manifest.json) or an RDF file with the project's SHACL shapes. "
                    "Exit status: 0 conforms (warnings allowed), 1 violations, 2 input error.")
    validate.add_argument("source", metavar="DIR_OR_FILE")
    validate.add_argument("--shapes", default=None, metavar="FILE",
                          help="validate against these shapes (Turtle) instead of shapes/")
    validate.add_argument("--base", default=DEFAULT_BASE,
                          help=f"IRI base of a plain RDF file (default {DEFAULT_BASE})")
    validate.set_defaults(func=cmd_validate)


def _add_diff(sub: Subcommands) -> None:
    diff = sub.add_parser(
        "diff", help="what changed between two releases (actions, structures, bodies)",
        description="Compare two release directories in one pass over their sorted dumps: print "
                    "each action, structure and public body added, removed or changed (with the "
                    "properties that changed), one per line. Exit status: 0 compared, "
                    "2 unreadable input.")
    diff.add_argument("old", type=Path, metavar="OLD", help="the earlier release directory")
    diff.add_argument("new", type=Path, metavar="NEW", help="the later release directory")
    diff.add_argument("--out", type=Path, default=None, metavar="DIR",
                      help="also write the changeset there: added.nt.gz, removed.nt.gz "
                           "(sorted N-Triples) and summary.ttl")
    diff.set_defaults(func=cmd_diff)


def _add_series(sub: Subcommands) -> None:
    group = sub.add_parser(
        "series", help="a release series' disk use (status) and retiring an old release",
        description="Look after a release series folder (built with build --series): "
                    "`series status DIR` and `series retire DIR ID`.")
    group.set_defaults(func=lambda _: _no_series_command(group))
    commands = group.add_subparsers(dest="series_command", metavar="COMMAND")
    status = commands.add_parser(
        "status", help="each release: date, state, triples, records and disk use",
        description="One line per release of the series (id, date, latest or retired, triples "
                    "and records from its manifest, the bytes of its dumps, tables, changes and "
                    "other files, and of its store), then the totals. Exit status: 0, 1 when "
                    "the folder is no series.")
    status.add_argument("folder", type=Path, metavar="DIR", help="the series folder")
    status.add_argument("--store", type=Path, default=None, metavar="STORE_DIR",
                        help="the folder of the series' stores, STORE_DIR/ID (default: "
                             "data/store, as serve --series)")
    status.add_argument("--json", action="store_true",
                        help="print the status as JSON (sizes in bytes) for scripts")
    status.set_defaults(func=cmd_series_status)
    retire = commands.add_parser(
        "retire", help="free an old release's space, keeping its changeset",
        description="Retire release ID: remove its dumps, tables, network and other derived "
                    "files (and its store with --store), keep its manifest (rewritten, with "
                    "\"retired\": DATE), its changes/, ontology/ and summary, and mark it retired in "
                    "series.json. The latest release, an unknown or retired one are refused. "
                    "Exit status: 0 retired (or --dry-run), 1 refused (nothing changed), "
                    "2 usage error.")
    retire.add_argument("folder", type=Path, metavar="DIR", help="the series folder")
    retire.add_argument("release_id", type=_release_id, metavar="ID", help="the release to retire")
    retire.add_argument("--store", type=Path, default=None, metavar="STORE_DIR",
                        help="also remove the release's store, STORE_DIR/ID (the --store of "
                             "serve --series)")
    retire.add_argument("--dry-run", action="store_true",
                        help="say what would be removed and kept; change nothing")
    retire.set_defaults(func=cmd_series_retire)


def _add_serve(sub: Subcommands) -> None:
    serve = sub.add_parser(
        "serve", help="serve a release: SPARQL endpoint and linked data (development server)",
        description="Serve a release on an embedded Oxigraph store (built from the release on "
                    "first start, reopened afterwards). Settings also come from SENACS_KG_* "
                    "environment variables and SENACS_KG_CONFIG_FILE (see the README).")
    served = serve.add_mutually_exclusive_group()
    served.add_argument("--release", type=Path, default=None, metavar="DIR",
                        help="the release to serve (default: data/build)")
    served.add_argument("--series", type=Path, default=None, metavar="DIR",
                        help="a release series to serve (DIR/series.json and DIR/ID/): the "
                             "latest release at the plain IRIs, each one under /release/ID/")
    serve.add_argument("--store", type=Path, default=None, metavar="DIR",
                       help="the on-disk store (default: data/store); for a series, the "
                            "folder of one store per release, DIR/ID")
    serve.add_argument("--base", default=None, help="IRI base (default: the release's)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8000)
    serve.set_defaults(func=cmd_serve)


def _add_network(sub: Subcommands) -> None:
    net = sub.add_parser(
        "network", help="shared-partner networks (GraphML, GEXF, CSV, PNG, SVG)",
        description="Build the structure-partner network from a release or a SPARQL endpoint "
                    "and write one of its graphs with node metrics (degree, weighted degree, "
                    "betweenness, community).")
    net.add_argument("--release", type=Path, default=None, metavar="DIR",
                     help="read this release (default: data/build)")
    net.add_argument("--endpoint", default=None, metavar="URL",
                     help="read through this SPARQL endpoint instead of a release")
    net.add_argument("--base", default=None, help="IRI base (default: the release's)")
    net.add_argument("--graph", choices=("structures", "partners", "bipartite"),
                     default="structures",
                     help="structures linked by shared partners (default), partners linked by "
                          "shared structures, or the bipartite graph")
    net.add_argument("--categories", action="store_true",
                     help="use partner categories (Caf, Commune…) instead of resolved bodies")
    net.add_argument("--format", required=True, choices=("graphml", "gexf", "csv", "png", "svg"))
    net.add_argument("--out", type=Path, required=True, metavar="FILE",
                     help="the file to write; csv writes the nodes there and the edges beside "
                          "them, with .edges.csv for .csv: --out net.csv writes net.csv and "
                          "net.edges.csv (as the release's network/ files)")
    net.set_defaults(func=cmd_network)


def _no_command(parser: argparse.ArgumentParser) -> int:
    """A usage error that shows what the user could have typed: the commands, one line each."""
    parser.print_help(sys.stderr)
    print("\nsenacs-kg: error: no command given: name one of the commands above "
          "(senacs-kg COMMAND --help describes it)", file=sys.stderr)
    return EXIT_USAGE


def _no_series_command(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    print("\nsenacs-kg series: error: no command given: status or retire (senacs-kg series "
          "COMMAND --help describes it)", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return _no_command(parser)
    try:
        return args.func(args)
    except UsageError as err:
        parser.error(str(err))  # prints usage and exits with status 2
    except Terminated:
        print("senacs-kg: stopped by SIGTERM", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("senacs-kg: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `senacs-kg check … | head`
        sys.stderr.close()
        return EXIT_PROBLEMS
    except Exception as err:  # a bug of ours: one line for the user, the trace on demand
        if os.environ.get("SENACS_KG_DEBUG"):
            raise
        print(f"senacs-kg: internal error: {type(err).__name__}: {err} (set SENACS_KG_DEBUG=1 "
              "for the traceback, and please report it)", file=sys.stderr)
        return EXIT_INTERNAL
    return EXIT_OK  # unreachable: parser.error exits


if __name__ == "__main__":
    sys.exit(main())
