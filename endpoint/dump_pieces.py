"""A release's canonical dump read as pieces of whole lines, one per core, for the store's loader.

A release built before the dump was gzipped only has a plain ``dataset.nt``: it is cut at
line ends. Otherwise ``dataset.nt.gz`` is one gzip stream fully flushed at line ends, the
points listed in its manifest entry (``mapping.release._BlockedGzip``): each piece is raw
deflate data from one such point to another, inflated on its own. The pieces must then add up
to the stream itself: each inflates to exactly the size the points say (never less data, and
no more: a bomb stops at once), every flush point it passes is where the manifest says, only
the last one ends the stream, followed by the 8-byte trailer, and the CRC-32 and size of all
of them together are the trailer's. Flush points that make no sense (not a list of
increasing offsets after the 10-byte header, within the file) mean one piece read through
``gzip``, which checks the same.

The flush points of any dump (Turtle and JSON-LD have them too) also let the server send a
range of its decompressed content from the nearest point before it (``Inflated``): the
canonical dump's were all checked as it loaded; the others are trusted as their manifest is
(whose files' sha256 the server checks).
"""

from __future__ import annotations

import bisect
import gzip
import io
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mapping import release

GZIP_HEADER = 10  # bytes of a gzip header with no optional field (as the build writes it)
PARALLEL_LOAD_BYTES = 64 << 20  # a dump below this (decoded) is loaded in one piece


class DumpError(Exception):
    """The dump's pieces do not make up its gzip stream, or it cannot be read."""


class Slice(io.RawIOBase):
    """Bytes ``start`` to ``end`` of a file, read as a stream (a piece of the dump); with
    ``decoded`` (the piece's size once inflated), raw deflate data from a full flush point,
    read decompressed, its CRC-32 taken on the way, and each flush point inside it (``inner``:
    compressed and decoded offsets in the file) checked as it is passed; ``final``: the piece
    ends the stream, whose trailer it keeps."""

    OUTPUT_LIMIT = 4 << 20  # bytes inflated at a time
    READ_BYTES = 1 << 20  # compressed bytes read at a time

    def __init__(self, path: Path, start: int, end: int, decoded: int | None = None,
                 final: bool = False, inner: Sequence[tuple[int, int]] = ()) -> None:
        self.file = path.open("rb")
        self.file.seek(start)
        self.start, self.left, self.size = start, end - start, end - start
        self.expected, self.produced, self.crc, self.final = decoded, 0, 0, final
        self.inflater = zlib.decompressobj(-zlib.MAX_WBITS) if decoded is not None else None
        self.pending = memoryview(b"")  # inflated, not yet read
        self.trailer, self.ended = b"", False
        self.inner = list(inner)  # the flush points still ahead, relative to the piece
        self.offset = 0  # compressed bytes read

    def readable(self) -> bool:
        return True

    def consumed(self) -> int:
        """Bytes of the file read so far (the loader's progress)."""
        return self.size - max(self.left, 0)

    def readinto(self, buffer) -> int:
        if self.inflater is None:
            count = self.file.readinto(memoryview(buffer)[:min(len(buffer), self.left)])
            self.left -= count
            return count
        while not self.pending:
            if self.ended:  # the loader may read again after the end: nothing more
                return 0
            # at the stream's end, the trailer may still sit in unconsumed_tail: never fed again
            data = b"" if self.inflater.eof else self.inflater.unconsumed_tail
            if not data:
                if self.inflater.eof or self.left <= 0:
                    self._end()
                    return 0
                data = self._read()
            self.pending = memoryview(self.inflater.decompress(data, self.OUTPUT_LIMIT))
            self.produced += len(self.pending)
            self.crc = zlib.crc32(self.pending, self.crc)
            if self.produced > self.expected:
                raise DumpError(f"{self.file.name}: a piece of the gzip stream inflates to more "
                                f"than the {self.expected} bytes its manifest says")
        count = min(len(buffer), len(self.pending))
        buffer[:count] = self.pending[:count]
        self.pending = self.pending[count:]
        return count

    def _read(self) -> bytes:
        """The next compressed bytes, never past the next flush point, which is checked once
        everything before it was inflated: what its manifest says it decodes from."""
        while self.inner and self.offset == self.inner[0][0]:
            if self.produced != self.inner[0][1]:
                raise DumpError(f"{self.file.name}: the flush point at byte "
                                f"{self.start + self.offset} is not where its manifest says")
            self.inner.pop(0)
        limit = self.inner[0][0] - self.offset if self.inner else self.left
        data = self.file.read(min(self.READ_BYTES, self.left, limit))
        self.offset += len(data)
        self.left = self.left - len(data) if data else 0
        return data

    def _end(self) -> None:
        self.ended = True
        if self.produced != self.expected:
            raise DumpError(f"{self.file.name}: a piece of the gzip stream inflates to "
                            f"{self.produced} bytes, its manifest says {self.expected}")
        if self.inflater.eof != self.final:
            raise DumpError(f"{self.file.name}: the gzip stream ends "
                            + ("before its last piece" if self.inflater.eof else "nowhere"))
        if self.final:
            self.trailer = (self.inflater.unused_data or self.inflater.unconsumed_tail) \
                + self.file.read(max(self.left, 0) + 1)

    def close(self) -> None:
        self.file.close()
        super().close()


@dataclass
class Piece:
    """A run of whole lines of the dump: bytes ``start`` to ``end`` of ``path``, plain, or
    (``decoded`` given) raw deflate data that inflates to ``decoded`` bytes, passing the flush
    points ``inner`` (offsets from its start), or (``whole``) the whole gzip file read through
    gzip."""

    path: Path
    start: int
    end: int
    decoded: int | None = None
    whole: bool = False
    final: bool = False
    inner: tuple[tuple[int, int], ...] = ()
    raw: io.RawIOBase | None = field(default=None, repr=False)

    def open(self) -> io.BufferedReader:
        self.raw = gzip.open(self.path, "rb") if self.whole else \
            Slice(self.path, self.start, self.end, self.decoded, self.final, self.inner)
        return io.BufferedReader(self.raw, 1 << 20)

    def consumed(self) -> int:
        """Bytes of the file read so far, of ``end - start`` (the loader's progress)."""
        if isinstance(self.raw, Slice):
            return self.raw.consumed()
        if self.raw is None:
            return 0
        # the whole file through gzip: where its reader is (closing it, in the loader's thread,
        # takes its file away at any moment: then it was all read)
        file = self.raw.fileobj
        try:
            return file.tell() if file is not None else self.end - self.start
        except ValueError:  # closed in between
            return self.end - self.start


def line_cuts(path: Path, pieces: int) -> list[int]:
    """Offsets cutting the file into ``pieces`` runs of whole lines."""
    size = path.stat().st_size
    cuts = [0]
    with path.open("rb") as file:
        for k in range(1, pieces):
            file.seek(max(size * k // pieces, cuts[-1]))
            file.readline()
            cuts.append(min(file.tell(), size))
    return cuts + [size]


def flush_points(entry: object, path: Path) -> list[tuple[int, int]] | None:
    """The flush points a manifest entry lists, with the stream's end (file size, content
    size); None unless they are increasing pairs of offsets that start after the file's plain
    10-byte gzip header and end within the file and its content."""
    if not isinstance(entry, dict) or not isinstance(entry.get("decoded"), dict):
        return None
    blocks, decoded = entry.get("blocks"), entry["decoded"].get("bytes")
    if not isinstance(blocks, list) or not blocks or not _integer(decoded):
        return None
    with path.open("rb") as file:
        header = file.read(GZIP_HEADER)
        size = file.seek(0, 2)
    if header[:4] != b"\x1f\x8b\x08\x00":  # gzip, deflate, no optional field
        return None
    points = [tuple(b) for b in blocks if isinstance(b, list) and len(b) == 2
              and all(_integer(x) for x in b)]
    points.append((size, decoded))
    if len(points) != len(blocks) + 1 or points[0] != (GZIP_HEADER, 0) \
            or any(a >= b or c > d for (a, c), (b, d) in zip(points, points[1:])):
        return None
    return points


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _per_core(decoded: int) -> int:
    """One piece per core (at most 4) for a dump of PARALLEL_LOAD_BYTES or more, else one."""
    return min(os.cpu_count() or 1, 4) if decoded >= PARALLEL_LOAD_BYTES else 1


def pieces(release_dir: Path, manifest: dict, count: int | None = None) -> list[Piece]:
    """The canonical dump as ``count`` pieces of whole lines (by default one per core for a
    large dump; fewer if it has fewer blocks): the plain ``dataset.nt`` its manifest lists, cut
    at line ends; else the gzipped one, cut at the flush points nearest each share of its
    content."""
    plain = release_dir / release.DUMP
    if release.plain_dump_listed(release_dir, manifest) and plain.is_file():
        size = plain.stat().st_size
        count = count or _per_core(size)
        cuts = line_cuts(plain, count) if count > 1 else [0, size]
        return [Piece(plain, a, b) for a, b in zip(cuts, cuts[1:]) if a < b]
    packed = release_dir / release.DUMP_GZ
    if not packed.is_file():
        raise DumpError(f"{release_dir}: no {release.DUMP_GZ} in this release")
    files = manifest.get("files") if isinstance(manifest, dict) else None
    points = flush_points((files or {}).get(release.DUMP_GZ), packed)
    if points is None:
        return [Piece(packed, 0, packed.stat().st_size, whole=True)]
    decoded = points[-1][1]
    count = count or _per_core(decoded)
    cuts = [points[0]]
    for k in range(1, count):  # the flush point nearest each k-th share of the content
        point = min(points[:-1], key=lambda p: abs(p[1] - decoded * k // count))
        if point[0] > cuts[-1][0]:
            cuts.append(point)
    cuts.append(points[-1])
    return [Piece(packed, a, b, d - c, final=b == points[-1][0],
                  inner=tuple((pc - a, pd - c) for pc, pd in points if a < pc < b))
            for (a, c), (b, d) in zip(cuts, cuts[1:])]


class Inflated(io.RawIOBase):
    """A gzip file's content, seekable through its flush points: a seek inflates at most one
    block (32 MB) from the nearest point before it, where ``gzip`` would inflate everything
    before it (a Range near the end of an 18 GB dump, sent decompressed). What follows the
    point is read as the last ``Slice`` of the stream, with its checks."""

    def __init__(self, path: Path, points: Sequence[tuple[int, int]]) -> None:
        self.path, self.points = path, points
        self.starts = [decoded for _, decoded in points[:-1]]
        self.piece: Slice | None = None
        self._start_at(0)

    def _start_at(self, offset: int) -> None:
        k = max(bisect.bisect_right(self.starts, offset) - 1, 0)
        (compressed, decoded), (end, total) = self.points[k], self.points[-1]
        if self.piece is not None:
            self.piece.close()
        self.piece = Slice(self.path, compressed, end, total - decoded, final=True,
                           inner=[(c - compressed, d - decoded) for c, d in self.points[k + 1:-1]])
        self.position = decoded
        skip = bytearray(1 << 20)
        while self.position < offset and self.readinto(
                memoryview(skip)[:min(offset - self.position, len(skip))]):
            pass

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.points[-1][1]}
        if whence not in base:
            raise ValueError(f"invalid whence ({whence})")
        self._start_at(max(base[whence] + offset, 0))
        return self.position

    def readinto(self, buffer) -> int:
        """As many bytes as ``buffer`` holds, fewer only at the end (a piece stops at each
        flush point it passes)."""
        view, count = memoryview(buffer), 0
        while count < len(view) and (read := self.piece.readinto(view[count:])):
            count += read
        self.position += count
        return count

    def close(self) -> None:
        if self.piece is not None:
            self.piece.close()
        super().close()


def check_stream(loaded: Sequence[Piece]) -> None:
    """After every piece was read: the inflated pieces together are the gzip stream its
    trailer describes (CRC-32 and size), as ``gzip`` itself would check."""
    slices = [p.raw for p in loaded if isinstance(p.raw, Slice) and p.raw.inflater is not None]
    if not slices:
        return
    name = slices[-1].file.name
    if len(slices[-1].trailer) != 8:
        raise DumpError(f"{name}: {len(slices[-1].trailer)} bytes follow the gzip stream's end, "
                        "not its 8-byte trailer (a second stream, or a cut one)")
    crc, size = struct.unpack("<II", slices[-1].trailer)
    combined = slices[0].crc
    for piece in slices[1:]:
        combined = crc32_combine(combined, piece.crc, piece.produced)
    if combined != crc or sum(s.produced for s in slices) & 0xFFFFFFFF != size:
        raise DumpError(f"{name}: its content does not match its gzip trailer (CRC-32, size)")


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of A followed by B from those of A and B and B's length (zlib's
    ``crc32_combine``, which Python's zlib does not offer): pieces inflated apart, checked as
    one stream."""
    operator = [0xEDB88320] + [1 << n for n in range(31)]  # appends one zero bit to a CRC
    for _ in range(3):
        operator = _square(operator)  # two, four, then eight zero bits: one zero byte
    while length2 > 0:  # crc1 followed by length2 zero bytes, a power of two at a time
        if length2 & 1:
            crc1 = _times(operator, crc1)
        length2 >>= 1
        if length2:
            operator = _square(operator)
    return crc1 ^ crc2


def _times(matrix: list[int], vector: int) -> int:
    total, row = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def _square(matrix: list[int]) -> list[int]:
    return [_times(matrix, matrix[n]) for n in range(32)]
