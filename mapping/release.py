"""Writing a release directory: sorted dumps, derived formats, manifest, atomic publication.

A release is what portals harvest and what the server loads, so it is written
whole or not at all: everything goes into a temporary directory beside the
target, which then takes the target's place in one atomic ``renameat2``
exchange (Linux); a crash at any moment, ``kill -9`` included, leaves the
previous release as it was. Same inputs give the same bytes: lines are
sorted, gzip carries no timestamp and no file name, JSON keys are sorted, and no date comes
from the clock.

Every dump is published gzipped only: the canonical sorted N-Triples (``dataset.nt.gz``) and
the formats derived from it (Turtle, JSON-LD), streamed through gzip as they are written; at
1,000,000 records the plain files would take 35 GB. Each one's manifest entry says what it
decodes to (``"decoded": {"sha256", "bytes"}``), which the server needs to serve it
decompressed at its plain URL to a client that does not accept gzip (its ETag, Content-Length
and ranges); the canonical dump's decoded sha256 is the release's id, as the plain file's was.
The build writes the plain canonical dump in its work folder, for its own later steps only.

The canonical gzip stream is one gzip member (any gzip reader, any browser, reads it), fully
flushed every ``DUMP_BLOCK`` decoded bytes at a line's end: from each such point, listed in
its manifest entry (``"blocks"``: compressed and decoded offsets), the rest can be inflated
without what came before, so that the server loads the dump one piece per core
(``endpoint/store.py``), as it loaded the plain file. The IRI subjects go to ``subjects.txt``
(one ``<iri>`` a line, in the dump's order), which the server bisects to tell which releases
hold a resource.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gzip
import hashlib
import heapq
import json
import multiprocessing
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO, TextIO

import pyoxigraph as ox

from mapping import lifetime, vocab

DUMP = "dataset.nt"
DUMP_GZ = "dataset.nt.gz"
TURTLE = "dataset.ttl"  # the derived formats' names as served (and as releases built before
JSONLD = "dataset.jsonld"  # they were gzipped only held them); their files are these two:
TURTLE_GZ = "dataset.ttl.gz"
JSONLD_GZ = "dataset.jsonld.gz"
# gzip level of the derived formats: measured on the 100,000-record Turtle and JSON-LD, level 3
# compresses at 89 and 186 MB/s (ratios 5.1 and 7.1), level 6 at 47 and 77 MB/s (6.1 and 8.6):
# level 3 keeps their conversion (in parallel with each other) about as fast as before.
DERIVED_GZIP_LEVEL = 3
MANIFEST = "manifest.json"
CATALOG = "catalog.ttl"
EXAMPLES = "examples.ttl"
VOID = "void.ttl"
# A retired release's resources (mapping/series_admin.py): the IRI subjects its dump held, one
# ``<iri>`` a line in the dump's order, so that the server can still tell that it held them.
SUBJECTS = "subjects.txt"
# The ontology's HTML documentation, one page per language (French first), under ontology/.
# A release of a series: a campaign year, or a year and a number (a second export that year).
# Part of the release contract: the server reads series.json and routes /release/{id}/ by it.
RELEASE_ID = re.compile(r"[0-9]{4}(?:-[1-9][0-9]{0,5})?")
ONTOLOGY_DOC_LANGUAGES = ("fr", "en")



def is_release_id(text: object) -> bool:
    return isinstance(text, str) and RELEASE_ID.fullmatch(text) is not None


def release_key(release_id: str) -> tuple[int, int]:
    """The order of releases: by year, then by number (``2025`` < ``2025-2`` < ``2025-10``)."""
    year, _, number = release_id.partition("-")
    return int(year), int(number or 0)

def ontology_doc_page(lang: str) -> str:
    return f"ontology/index.{lang}.html"


CHUNK_LINES = 1_000_000  # lines sorted in memory at a time (about 200 MB)
# The build's worker processes are forked by its main thread, whatever the platform's default:
# each one is then a child of the build itself and dies with it (mapping.lifetime).
WORKER_START = multiprocessing.get_context("fork")


class SortedLines:
    """An external sort of N-Triples lines: memory stays flat whatever the size."""

    def __init__(self, workdir: Path, chunk_lines: int = CHUNK_LINES) -> None:
        self.workdir = workdir
        self.chunk_lines = chunk_lines
        self._lines: list[str] = []
        self._chunks: list[Path] = []

    def extend(self, lines: Iterable[str]) -> None:
        self._lines.extend(lines)
        if len(self._lines) >= self.chunk_lines:
            self._spill()

    def _spill(self) -> None:
        self._lines.sort()
        path = self.workdir / f"chunk-{len(self._chunks):05d}.nt"
        with path.open("w", encoding="utf-8") as out:
            out.writelines(self._lines)
        self._chunks.append(path)
        self._lines = []

    def merged(self) -> Iterator[str]:
        """Every line once, in order (duplicates dropped)."""
        self._lines.sort()
        with ExitStack() as stack:
            files = [stack.enter_context(p.open(encoding="utf-8")) for p in self._chunks]
            previous = None
            for line in heapq.merge(self._lines, *files):
                if line != previous:
                    yield line
                    previous = line
        for path in self._chunks:
            path.unlink()
        self._lines, self._chunks = [], []


def write_dumps(lines: Iterable[str], folder: Path, base: str,
                plain: Path) -> tuple[dict, dict[str, dict]]:
    """The canonical dump (sorted N-Triples): plain at ``plain`` (the build's work copy), and
    gzipped with its flush points and its ``subjects.txt`` in ``folder``; then gzipped Turtle
    and JSON-LD from it.

    Returns what VoID and the build report count (triples, instances per class, triples per
    property, distinct subjects and IRI subjects (entities)), and the manifest entries of the
    gzipped formats (their sha256 and size, and those of what they decode to).
    """
    rdf_type = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    classes: dict[str, int] = {}
    properties: dict[str, int] = {}
    triples = subjects = entities = 0
    previous_subject = None
    with plain.open("w", encoding="utf-8") as out, \
            (folder / SUBJECTS).open("w", encoding="utf-8") as listed, \
            _BlockedGzip(folder / DUMP_GZ) as gz:
        buffer: list[str] = []
        for line in lines:
            triples += 1
            subject, predicate, rest = line.split(" ", 2)
            if subject != previous_subject:
                subjects += 1
                entities += subject.startswith("<")
                if is_listed_subject(subject):
                    listed.write(subject + "\n")
                previous_subject = subject
            properties[predicate] = properties.get(predicate, 0) + 1
            if predicate == rdf_type:
                cls = rest[:-3]  # drop " .\n"
                classes[cls] = classes.get(cls, 0) + 1
            buffer.append(line)
            if len(buffer) >= 10_000:
                data = "".join(buffer)
                out.write(data)
                gz.write(data.encode("utf-8"))
                buffer = []
        data = "".join(buffer)
        out.write(data)
        gz.write(data.encode("utf-8"))
    counts = {"triples": triples, "subjects": subjects, "entities": entities,
              "classes": dict(sorted(classes.items())),
              "properties": dict(sorted(properties.items()))}
    return counts, {DUMP_GZ: gz.entry(), **write_derived(plain, folder, base)}


def is_listed_subject(subject: str) -> bool:
    """Whether a dump's subject (N-Triples form) goes to ``subjects.txt``: an IRI, not a hash
    IRI (a part of a resource, not a resource of its own)."""
    return subject.startswith("<") and "#" not in subject


DUMP_GZIP_LEVEL = 6
DUMP_BLOCK = 32 << 20  # decoded bytes, at least, between two flush points of a dump's gzip


class _BlockedGzip:
    """A dump's gzip file (one stream), fully flushed (``Z_FULL_FLUSH``: byte-aligned, no
    reference to earlier bytes) at the end of the first write after each ``DUMP_BLOCK`` bytes;
    its entry lists where each block starts, compressed and decoded. The canonical dump is
    written whole lines at a time, so its blocks start lines (its pieces load apart); any dump's
    blocks let the server start inflating near a byte a client asks for (a Range)."""

    def __init__(self, path: Path, level: int = DUMP_GZIP_LEVEL) -> None:
        self.raw = path.open("wb")
        self.packed = _Counted(self.raw)
        self.gz = gzip_writer(self.packed, level)
        self.plain = _Counted(self.gz)
        self.blocks = [[self.packed.bytes, 0]]  # after the gzip header
        self.since = 0

    def __enter__(self) -> _BlockedGzip:
        return self

    def write(self, data: bytes) -> int:
        self.plain.write(data)
        self.since += len(data)
        if self.since >= DUMP_BLOCK:
            self.gz.flush(zlib.Z_FULL_FLUSH)
            self.blocks.append([self.packed.bytes, self.plain.bytes])
            self.since = 0
        return len(data)

    def flush(self) -> None:
        """Nothing: the stream is flushed at its blocks' ends and when it closes."""

    def __exit__(self, *exc) -> None:
        self.gz.close()
        self.raw.close()

    def entry(self) -> dict:
        return {**self.packed.entry(), "decoded": self.plain.entry(), "blocks": self.blocks}


def write_derived(dump: Path, folder: Path, base: str) -> dict[str, dict]:
    """Gzipped Turtle and JSON-LD in ``folder`` from the plain canonical dump ``dump``, one
    process each (the two cores at once); their manifest entries by file name."""
    with ProcessPoolExecutor(max_workers=2, mp_context=WORKER_START,
                             initializer=lifetime.die_with_parent,
                             initargs=(os.getpid(),)) as pool:
        jobs = {name: pool.submit(_convert, dump, folder / name, fmt, base)
                for name, fmt in ((TURTLE_GZ, "TURTLE"), (JSONLD_GZ, "JSON_LD"))}
        return {name: job.result() for name, job in jobs.items()}


def write_turtle(ntriples: str, path: Path, base: str) -> None:
    """Small metadata graphs (catalog, VoID) as readable Turtle."""
    triples = ox.parse(ntriples.encode("utf-8"), format=ox.RdfFormat.N_TRIPLES)
    ox.serialize(triples, str(path), ox.RdfFormat.TURTLE,
                 prefixes=vocab.prefixes(base, metadata=True))


class _Counted:
    """A binary sink that hashes and counts the bytes written through it to ``out``: the
    digests of a gzipped file and of its content, taken while writing, never read back."""

    def __init__(self, out: BinaryIO) -> None:
        self.out, self.sha, self.bytes = out, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.bytes += len(data)
        self.out.write(data)
        return len(data)

    def flush(self) -> None:
        self.out.flush()

    def entry(self) -> dict:
        return {"sha256": self.sha.hexdigest(), "bytes": self.bytes}


def gzip_writer(sink: BinaryIO, level: int) -> gzip.GzipFile:
    """A gzip stream with no file name and a zero timestamp in its header: reproducible bytes."""
    return gzip.GzipFile(filename="", mode="wb", fileobj=sink, mtime=0, compresslevel=level)


def _convert(source: Path, target: Path, fmt: str, base: str) -> dict:
    """``source`` (N-Triples) serialized as ``fmt`` straight into the gzip file ``target``: no
    uncompressed copy ever touches the disk. Returns its manifest entry."""
    triples = ox.parse(path=str(source), format=ox.RdfFormat.N_TRIPLES)
    with _BlockedGzip(target, DERIVED_GZIP_LEVEL) as gz:
        ox.serialize(triples, gz, getattr(ox.RdfFormat, fmt), prefixes=vocab.prefixes(base))
    return gz.entry()


def file_digest(path: Path) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            sha.update(block)
            size += len(block)
    return sha.hexdigest(), size


def write_manifest(folder: Path, content: dict, known: dict[str, dict] | None = None) -> dict:
    """manifest.json: every file of the release with its sha256 and size, plus ``content``.

    ``known`` gives the digests already computed (the dumps, hashed for the catalog), so that
    gigabytes are not read twice.
    """
    known = known or {}
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        name = path.relative_to(folder).as_posix()
        if name in known:
            files[name] = dict(known[name])
        else:
            digest, size = file_digest(path)
            files[name] = {"sha256": digest, "bytes": size}
    canonical = canonical_sha256(files)
    manifest = {**content, "files": files, "release": canonical[:16] if canonical else None}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True,
                                              ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def canonical_sha256(files: dict[str, dict]) -> str | None:
    """The sha256 of the canonical dump's content, from a manifest's files: its gzip's decoded
    content, or the plain file a release built before the dump was gzipped only held."""
    if DUMP in files:
        return files[DUMP]["sha256"]
    decoded = files.get(DUMP_GZ, {}).get("decoded")
    return decoded["sha256"] if isinstance(decoded, dict) else None


def dump_file(folder: Path, manifest: dict | None = None) -> Path | None:
    """The file holding a release's canonical dump: ``dataset.nt.gz``, or ``dataset.nt`` where
    a release built before it was gzipped only lists it (quicker to read: a plain copy its
    manifest does not list, say unzipped beside the gzip, is never read for it); None for a
    release with neither (retired). ``manifest``: the release's, if already read."""
    if plain_dump_listed(folder, manifest) and (folder / DUMP).is_file():
        return folder / DUMP
    return folder / DUMP_GZ if (folder / DUMP_GZ).is_file() else None


def plain_dump_listed(folder: Path, manifest: dict | None = None) -> bool:
    """Whether the release's manifest lists a plain ``dataset.nt`` (a release built before)."""
    if manifest is None:
        try:
            manifest = read_manifest(folder)
        except NotARelease:
            return False
    files = manifest.get("files") if isinstance(manifest, dict) else None
    return isinstance(files, dict) and DUMP in files


def open_dump(path: Path) -> BinaryIO:
    """An N-Triples file (plain, or gzipped: by its name) as bytes."""
    return gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")


def open_lines(path: Path) -> TextIO:
    """An N-Triples file (plain, or gzipped: by its name) as text, line by line."""
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="\n")
    return path.open(encoding="utf-8", newline="\n")


class NotARelease(Exception):
    """The folder holds no release (no manifest.json), or its manifest cannot be read."""


def read_manifest(folder: Path) -> dict:
    """A release's manifest.json: the one reader of it, for the build, the CLI, the server and
    the network analysis."""
    path = folder / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotARelease(f"{folder}: no release here (no {MANIFEST}); build one with "
                          "`senacs-kg build`") from None
    except (OSError, ValueError) as err:
        raise NotARelease(f"{path}: the manifest cannot be read: {err}") from None


def verify(folder: Path, sizes_only: bool = False) -> list[str]:
    """Files of a release whose checksum or size no longer match its manifest; with
    ``sizes_only``, whose size (a stat each: the quick check before a long load)."""
    manifest = read_manifest(folder)
    bad = []
    for name, meta in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            bad.append(f"{name}: missing")
            continue
        if sizes_only:
            size = path.stat().st_size
            if size != meta["bytes"]:
                bad.append(f"{name}: {size} bytes, manifest says {meta['bytes']} bytes")
            continue
        digest, size = file_digest(path)
        if (digest, size) != (meta["sha256"], meta["bytes"]):
            bad.append(f"{name}: sha256 {digest[:12]}… ({size} bytes), manifest says "
                       f"{meta['sha256'][:12]}… ({meta['bytes']} bytes)")
    return bad


# -- atomic publication -----------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the system cannot."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def staging_dir(out: Path) -> Path:
    """A fresh temporary directory beside the target (same file system, so rename works)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(out)
    staged = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-{os.getpid()}-", dir=out.parent))
    staged.chmod(0o755)  # mkdtemp makes it private; a release is served and harvested
    return staged


def clean_stale(out: Path) -> None:
    """Remove what interrupted builds left beside the target (their process is gone)."""
    prefix = f".{out.name}.building-"
    for path in out.parent.glob(prefix + "*"):
        pid = path.name[len(prefix):].split("-")[0]
        if pid.isdigit() and _alive(int(pid)) and int(pid) != os.getpid():
            continue
        shutil.rmtree(path, ignore_errors=True)
    old = out.parent / f".{out.name}.old"
    if old.exists() and out.exists():
        shutil.rmtree(old, ignore_errors=True)
    elif old.exists():  # a crash between the two renames of the fallback: put it back
        old.rename(out)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def publish(staged: Path, out: Path) -> None:
    """Make ``staged`` the release at ``out`` in one step; the previous one is removed after."""
    for path in (staged, *staged.rglob("*")):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    if not out.exists():
        staged.rename(out)
    elif _exchange(staged, out):
        shutil.rmtree(staged)  # now holds the previous release
    else:  # no renameat2: two renames, repaired by clean_stale() if interrupted between them
        old = out.parent / f".{out.name}.old"
        out.rename(old)
        staged.rename(out)
        shutil.rmtree(old)
    sync_folder(out.parent)


def sync_folder(folder: Path) -> None:
    """The folder's entries (a rename into it) on disk, not only in the page cache."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(temporary: Path, target: Path) -> None:
    """``temporary`` (written beside ``target``) made ``target`` in one step that survives a
    crash: its bytes flushed to disk, renamed over, the rename flushed too."""
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    sync_folder(target.parent)
