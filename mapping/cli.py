"""``senacs-kg``: the command-line door to the project.

Exit statuses are a contract (scripts rely on them): see ``../shared/DESIGN.md``.
Users get ``FILE:LINE: message`` lines and one-line errors, never a traceback.
"""

from __future__ import annotations

import argparse
import codecs
import sys
from collections.abc import Sequence
from pathlib import Path

from mapping.reader import ExportFile
from mapping.vocab import DEFAULT_BASE

RELEASE_DUMP = "dataset.nt"  # a release directory's canonical dump

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments: reported in one line, exit status 2."""


def _encoding(value: str) -> str:
    try:
        return codecs.lookup(value).name
    except LookupError:
        raise argparse.ArgumentTypeError(f"unknown encoding: {value}") from None


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


def _load_graph(name: str):
    """An RDF file, or a release directory's canonical dump, parsed; UsageError when unreadable."""
    from rdflib import Graph
    from rdflib.util import guess_format

    path = Path(name)
    if path.is_dir():
        path = path / RELEASE_DUMP
    if not path.is_file():
        raise UsageError(f"{path}: no such file (expected an RDF file or a release directory)")
    fmt = guess_format(str(path)) or "turtle"
    graph = Graph()
    try:
        graph.parse(path, format=fmt)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="senacs-kg",
        description="Knowledge graph and linked-data publisher for SENACS 'fiches actions'.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser(
        "check", help="read exports and report every problem as FILE:LINE: message",
        description="Read SENACS text exports and print every problem as FILE:LINE: message. "
                    "Exit status: 0 clean (warnings allowed), 1 problems, 2 usage error.")
    check.add_argument("files", nargs="+", metavar="FILE", help="SENACS text export(s)")
    check.add_argument("--encoding", type=_encoding, default=None,
                       help="read the files in this encoding instead of refusing non-UTF-8 "
                            "(e.g. cp1252, latin-1)")
    check.set_defaults(func=cmd_check)

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as err:
        parser.error(str(err))  # prints usage and exits with status 2
    except KeyboardInterrupt:
        print("senacs-kg: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `senacs-kg check … | head`
        sys.stderr.close()
        return EXIT_PROBLEMS
    return EXIT_OK  # unreachable: parser.error exits


if __name__ == "__main__":
    sys.exit(main())
