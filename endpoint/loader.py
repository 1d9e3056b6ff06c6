"""The store's load: a release's dumps into a new on-disk store, in a process of its own.

``load(...)`` runs ``python -m endpoint.loader`` and follows it; the child calls ``fill``. Why
a process and not the server's own threads (measured by ``benchmarks/bench_store_load.py``):

- its heap goes back to the system when it ends. Loaded in the server, glibc kept 0.8 GB of
  the loader's 3.3 GB peak (100,000 records) in the server's process for the rest of its life;
- it can run on jemalloc where the system has it (Debian's ``libjemalloc2``), preloaded in the
  child alone: the loader sorts and frees millions of small keys per batch, and glibc spent
  about 15 % of the load's CPU time merging freed chunks (``perf``); on jemalloc the bulk
  load of 100,000 records takes about 15 % less CPU. The setting ``LOADER_ALLOCATOR =
  "system"`` keeps glibc's;
- what it has read of the dump is reported as it goes, shown as a progress bar where stderr
  is a terminal (minutes at 1,000,000 records).

The child says what happens in JSON lines on its stdout; its stderr is kept, and only its last
line is said if it ends without saying why (never a traceback). It stops if the server dies.
"""

from __future__ import annotations

import ctypes.util
import functools
import io
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from endpoint import dump_pieces

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]  # where the endpoint package is, for the child

REPORT_SECONDS = 0.5  # how often the child says how much of the dump it has read

# (changeset id, its summary.ttl, the named graph it is loaded into)
Change = tuple[str, Path, str]
Progress = Callable[[int, int], None]  # (bytes of the dump read, of how many)


class LoadError(Exception):
    """The release cannot be loaded: the reason, in one line, naming the file."""


@dataclass(frozen=True)
class Loaded:
    """What the child said of a load that ended well."""

    allocator: str  # what it ran on: jemalloc or system
    read: int  # bytes of the dump's file it read, of
    of: int


# -- in the server: start the child and follow it --------------------------------------------------


def load(release_dir: Path, staged: Path, base: str, manifest: dict,
         changes: Sequence[Change] = (), allocator: str = "jemalloc") -> Loaded:
    """Fill the new store folder ``staged`` with the release in a child process, on
    ``allocator`` (``jemalloc`` where the system has it, or ``system``); LoadError says why it
    could not."""
    started = time.perf_counter()
    request = {"release": str(release_dir), "staged": str(staged), "base": base,
               "manifest": manifest, "parent": os.getpid(),
               "changes": [[i, str(path), graph] for i, path, graph in changes]}
    environment = child_environment(allocator)
    with tempfile.TemporaryFile() as errors:
        # -P: not the working folder first on its path, but this code's, as the server's
        child = subprocess.Popen([sys.executable, "-P", "-m", "endpoint.loader"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                                 env=environment)
        try:
            try:
                with child.stdin:
                    child.stdin.write(json.dumps(request).encode("utf-8"))
            except BrokenPipeError:  # it ended before reading it: its stderr says why
                pass
            said = _follow(child.stdout)
            status = child.wait()
        finally:
            if child.poll() is None:  # the server is stopping (Ctrl-C) or failed to read
                child.kill()
                child.wait()
            child.stdout.close()
        if "error" in said:
            raise LoadError(said["error"])
        if status != 0 or not said.get("done"):
            errors.seek(0)
            raise LoadError(f"{release_dir}: the store's loader stopped "
                            f"({_status(status)}){_last_line(errors.read())}")
    log.info("%s loaded into the store in %.1f s (allocator: %s)", release_dir,
             time.perf_counter() - started, said.get("allocator"))
    return Loaded(said.get("allocator", "system"), said.get("read", 0), said.get("of", 0))


def child_environment(allocator: str = "jemalloc") -> dict[str, str]:
    """The loader's environment: the server's, with jemalloc preloaded where the system has
    it, unless ``allocator`` is ``system`` or LD_PRELOAD already names a library."""
    environment = dict(os.environ)
    paths = [str(ROOT), *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))]
    environment["PYTHONPATH"] = os.pathsep.join(paths)
    if allocator == "jemalloc" and not environment.get("LD_PRELOAD") and jemalloc():
        environment["LD_PRELOAD"] = jemalloc()
    return environment


@functools.cache
def jemalloc() -> str | None:
    """The system's jemalloc library (its soname, as the dynamic linker finds it), if any."""
    return ctypes.util.find_library("jemalloc") if sys.platform.startswith("linux") else None


def _follow(lines: io.BufferedReader) -> dict:
    """What the child says, its progress drawn as it comes: the last value of each key."""
    from tqdm import tqdm

    said: dict = {}
    bar = tqdm(total=None, unit="B", unit_scale=True, desc="load the store",
               disable=not sys.stderr.isatty(), file=sys.stderr, mininterval=0.5)
    try:
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                continue  # nothing but JSON is written there; a stray line is not ours
            if not isinstance(message, dict):
                continue
            said.update(message)
            if "read" in message:
                bar.total = message.get("of")
                bar.update(message["read"] - bar.n)
            if message.get("phase") == "compact":
                bar.set_description("compact the store")
    finally:
        bar.close()
    return said


def _status(code: int) -> str:
    if code < 0:
        return f"signal {-code}" + (": out of memory?" if code == -9 else "")
    return f"exit status {code}"


def _last_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    return f": {lines[-1][:300]}" if lines else ""


# -- in the child: the load itself -----------------------------------------------------------------


def fill(release_dir: Path, staged: Path, base: str, manifest: dict,
         changes: Sequence[Change] = (), progress: Progress | None = None,
         phase: Callable[[str], None] = lambda name: None) -> None:
    """Load the release into a new store at ``staged``: the canonical dump in pieces, the
    ontology into its named graph, each changeset into its own; then compact it."""
    import pyoxigraph as ox

    store = ox.Store(str(staged))
    bulk_load_parallel(store, release_dir, manifest, progress=progress)
    phase("ontology")
    ontology = ox.NamedNode(base + "def")
    for path in sorted((release_dir / "ontology").glob("*.ttl")):
        _load_file(store, path, ontology, "the ontology file")
    for change_id, summary, graph in changes:
        _load_file(store, summary, ox.NamedNode(graph), f"the changeset of release {change_id}")
    # one compaction after the bulk load: the loader leaves many overlapping files that every
    # lookup must search; compacted, cold analytical queries run 2.5-4 times faster
    # (benchmarks/bench_queries.py; 6-8 s more to load 100,000 records)
    phase("compact")
    store.optimize()
    store.flush()
    del store


def _load_file(store, path: Path, graph, what: str) -> None:
    """A Turtle file of the release into ``graph``; LoadError naming it if it cannot be read
    (not there, a folder, not Turtle)."""
    import pyoxigraph as ox

    try:
        store.bulk_load(path=str(path), format=ox.RdfFormat.TURTLE, to_graph=graph)
    except (SyntaxError, ValueError, OSError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise LoadError(f"{path}: {what} cannot be read: "
                        f"{(reason.splitlines() or [''])[0]}") from None


def bulk_load_parallel(store, release_dir: Path, manifest: dict, pieces: int | None = None,
                       progress: Progress | None = None) -> None:
    """The release's canonical dump into the store, one piece of whole lines per core
    (``endpoint/dump_pieces.py``), each piece's bulk loader in a thread of its own
    (pyoxigraph releases the GIL while it loads, zlib while it inflates; each loader writes
    its own files and ingests them): one loader keeps about 1.5 of 2 cores busy. Then the
    pieces are checked to make up the gzip stream (its CRC-32 and size). ``progress`` is
    told every REPORT_SECONDS how many bytes of the dump's file were read."""
    import pyoxigraph as ox

    errors: list[BaseException] = []

    def load(stream: io.BufferedReader) -> None:
        try:
            with stream:
                store.bulk_load(stream, format=ox.RdfFormat.N_TRIPLES)
        except BaseException as err:  # noqa: BLE001 - raised again in the calling thread
            errors.append(err)

    try:
        cut = dump_pieces.pieces(release_dir, manifest, pieces)
        streams: list[io.BufferedReader] = []
        try:
            for piece in cut:
                streams.append(piece.open())
        except BaseException:
            for stream in streams:
                stream.close()
            raise
        threads = [threading.Thread(target=load, args=(stream,)) for stream in streams]
        for thread in threads:
            thread.start()
        total = sum(piece.end - piece.start for piece in cut)
        while alive := [thread for thread in threads if thread.is_alive()]:
            if progress:
                progress(sum(piece.consumed() for piece in cut), total)
            alive[0].join(REPORT_SECONDS)
        if errors:
            raise errors[0]
        dump_pieces.check_stream(cut)
        if progress:
            progress(total, total)
    except (dump_pieces.DumpError, OSError, EOFError, zlib.error, SyntaxError) as err:
        raise LoadError(f"{release_dir}: its canonical dump cannot be loaded: "
                        f"{str(err).splitlines()[0]}") from None


def allocator() -> str:
    """The allocator this process runs on: ``jemalloc`` if preloaded, else ``system``."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            return "jemalloc" if any("libjemalloc" in line for line in maps) else "system"
    except OSError:
        return "system"


def main() -> int:
    """The child: one request on stdin, JSON lines on stdout, 0 once the store is filled."""
    from mapping import lifetime

    request = json.load(sys.stdin)
    lifetime.watch_parent(request["parent"])  # its server may start it from a request thread
    lock = threading.Lock()

    def say(**message) -> None:
        with lock:
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()

    say(allocator=allocator())
    try:
        fill(Path(request["release"]), Path(request["staged"]), request["base"],
             request["manifest"], [(i, Path(p), g) for i, p, g in request["changes"]],
             progress=lambda read, of: say(read=read, of=of),
             phase=lambda name: say(phase=name))
    except LoadError as err:
        say(error=str(err))
        return 1
    except OSError as err:  # the store's folder: full, not writable
        say(error=f"{request['staged']}: the store cannot be written: "
                  f"{err.strerror or str(err).splitlines()[0]}")
        return 1
    except MemoryError:
        say(error=f"{request['release']}: the store's loader ran out of memory")
        return 1
    say(done=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
