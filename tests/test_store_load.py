"""Loading a release into the embedded store: in pieces at once, compacted, every triple there.

A large dump is cut into runs of whole lines, one per core, each bulk-loaded by a thread of its
own (endpoint/loader.py): the gzipped canonical dump at its flush points, each run inflated on
its own; a release built before, with a plain dataset.nt, at line ends. The store must then
hold exactly the dump's triples, whatever the cuts. The seed release is small, so the pieces
are asked for here rather than left to the size threshold.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import zlib

import pyoxigraph as ox
import pytest
import requests
from harness import appended, dump_bytes, garbled, live_server, senacs_kg

from endpoint import dump_pieces, loader
from endpoint import store as embedded
from mapping import release

B = "https://w3id.org/senacs-kg/"


def triples_of(data: bytes) -> set[str]:
    return {line.rstrip(" .\n") for line in data.decode("utf-8").splitlines(True)}


def loaded_triples(store) -> set[str]:
    return {str(q.triple) for q in store.quads_for_pattern(None, None, None)}


@pytest.fixture
def blocked_release(release_dir, tmp_path, monkeypatch):
    """The seed release with its canonical gzip written again in blocks of 4 kB (a large
    dump's are 32 MB): many flush points to cut it at."""
    copy = tmp_path / "blocked"
    shutil.copytree(release_dir, copy)
    plain = dump_bytes(copy)
    monkeypatch.setattr(release, "DUMP_BLOCK", 4096)
    with release._BlockedGzip(copy / release.DUMP_GZ) as gz:
        for line in plain.splitlines(keepends=True):
            gz.write(line)
    manifest = release.read_manifest(copy)
    manifest["files"][release.DUMP_GZ] = gz.entry()
    (copy / release.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return copy


def test_the_canonical_gzip_is_one_stream_whose_blocks_inflate_alone(blocked_release):
    data = (blocked_release / release.DUMP_GZ).read_bytes()
    whole = zlib.decompressobj(zlib.MAX_WBITS | 16)  # a gzip reader: one member, nothing after
    plain = whole.decompress(data)
    assert whole.eof and whole.unused_data == b""
    entry = release.read_manifest(blocked_release)["files"][release.DUMP_GZ]
    assert entry["decoded"] == {"sha256": hashlib.sha256(plain).hexdigest(), "bytes": len(plain)}
    blocks = entry["blocks"]
    assert len(blocks) > 100 and blocks[0] == [10, 0]  # after the 10-byte gzip header
    ends = [*blocks[1:], [len(data), len(plain)]]
    for (start, decoded), (end, decoded_end) in zip(blocks, ends):
        assert plain[decoded - 1:decoded] in (b"", b"\n")  # a block starts a line
        inflated = zlib.decompressobj(-zlib.MAX_WBITS).decompress(data[start:end])
        assert inflated == plain[decoded:decoded_end]  # with nothing that came before it


@pytest.mark.parametrize("pieces, limit", [(1, None), (2, None), (3, None), (7, None),
                                           (1, 1000), (3, 1000)])
def test_the_dump_loaded_in_pieces_is_the_dump(pieces, limit, blocked_release, tmp_path,
                                               monkeypatch):
    """With ``limit``, a piece is inflated a few bytes at a time (a large dump's pieces fill
    the inflater's output limit at every read): its stream's end is met with input left over."""
    if limit:
        monkeypatch.setattr(dump_pieces.Slice, "OUTPUT_LIMIT", limit)
    manifest = release.read_manifest(blocked_release)
    cut = dump_pieces.pieces(blocked_release, manifest, pieces)
    assert len(cut) == pieces and all(piece.decoded for piece in cut)
    assert [piece.start for piece in cut[1:]] == [piece.end for piece in cut[:-1]]
    store = ox.Store(str(tmp_path / "store"))
    loader.bulk_load_parallel(store, blocked_release, manifest, pieces)
    assert loaded_triples(store) == triples_of(dump_bytes(blocked_release))


@pytest.mark.parametrize("pieces", [1, 3])
def test_a_release_built_before_loads_from_its_plain_dump(pieces, release_dir, tmp_path):
    """A release built before the dump was gzipped only has dataset.nt, which its manifest
    lists: cut at line ends."""
    copy = tmp_path / "before"
    shutil.copytree(release_dir, copy)
    dump = copy / release.DUMP
    dump.write_bytes(dump_bytes(copy))
    manifest = release.read_manifest(copy)
    manifest["files"][release.DUMP] = {"sha256": "0" * 64, "bytes": dump.stat().st_size}
    (copy / release.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    cuts = dump_pieces.line_cuts(dump, pieces)
    assert cuts[0] == 0 and cuts[-1] == dump.stat().st_size and cuts == sorted(cuts)
    data = dump.read_bytes()
    assert all(data[c - 1:c] == b"\n" for c in cuts[1:-1])  # every cut after a line's end
    (copy / release.DUMP_GZ).unlink()  # so that only the plain file can have been read
    store = ox.Store(str(tmp_path / "store"))
    loader.bulk_load_parallel(store, copy, release.read_manifest(copy), pieces)
    assert loaded_triples(store) == triples_of(data)


def test_a_cut_gzip_dump_fails_to_load_rather_than_load_less(blocked_release, tmp_path):
    packed = blocked_release / release.DUMP_GZ
    packed.write_bytes(packed.read_bytes()[:-100])  # inside the last block
    store = ox.Store(str(tmp_path / "store"))
    with pytest.raises(loader.LoadError, match="cannot be loaded: .*inflates to"):
        loader.bulk_load_parallel(store, blocked_release,
                                  release.read_manifest(blocked_release), 3)


def _with_blocks(release_dir, blocks) -> dict:
    manifest = release.read_manifest(release_dir)
    manifest["files"][release.DUMP_GZ]["blocks"] = blocks
    return manifest


def test_flush_points_that_are_none_fail_the_load_rather_than_load_less(blocked_release,
                                                                         tmp_path):
    """The manifest is the build's, checked by its checksums; if its flush points still lie
    (a point inside a block), the pieces do not inflate to what it says: an error."""
    blocks = release.read_manifest(blocked_release)["files"][release.DUMP_GZ]["blocks"]
    (start, decoded), (after, _) = blocks[40], blocks[41]
    lying = [*blocks[:40], [start + (after - start) // 2, decoded], *blocks[41:]]
    store = ox.Store(str(tmp_path / "store"))
    with pytest.raises(loader.LoadError, match="cannot be loaded"):
        loader.bulk_load_parallel(store, blocked_release,
                                  _with_blocks(blocked_release, lying), 80)


@pytest.mark.parametrize("blocks", [None, "everywhere", [["10", 0]], [[10, 0], [5, 9]], [[0, 0]]])
def test_flush_points_that_make_no_sense_are_ignored(blocks, blocked_release, tmp_path):
    """No list of increasing offsets: the dump is read whole through gzip, every triple."""
    manifest = _with_blocks(blocked_release, blocks)
    assert [p.whole for p in dump_pieces.pieces(blocked_release, manifest, 3)] == [True]
    store = ox.Store(str(tmp_path / "store"))
    loader.bulk_load_parallel(store, blocked_release, manifest, 3)
    assert loaded_triples(store) == triples_of(dump_bytes(blocked_release))


def test_a_prepared_store_is_compacted_and_says_so(release_dir, tmp_path):
    store_dir = tmp_path / "store"
    release_id = embedded.prepare_store(release_dir, store_dir, B)
    marker = json.loads((store_dir / embedded.MARKER).read_text(encoding="utf-8"))
    assert marker == {"release": release_id, "base": B, "changes": [], "compacted": True}
    opened = ox.Store.read_only(str(store_dir))
    assert len(list(opened.quads_for_pattern(None, None, None, ox.DefaultGraph()))) \
        == len(triples_of(dump_bytes(release_dir)))


def test_a_store_loaded_before_compaction_is_loaded_again(release_dir, tmp_path):
    store_dir = tmp_path / "store"
    release_id = embedded.prepare_store(release_dir, store_dir, B)
    marker = store_dir / embedded.MARKER
    older = {"release": release_id, "base": B, "changes": []}  # as written before #18
    marker.write_text(json.dumps(older), encoding="utf-8")
    embedded.prepare_store(release_dir, store_dir, B)
    assert json.loads(marker.read_text(encoding="utf-8"))["compacted"] is True


@pytest.mark.parametrize("said", ["{not json", "[]", '"a store"', "\udcff"])
def test_a_store_whose_marker_cannot_be_read_is_loaded_again(said, release_dir, tmp_path):
    """Not a traceback at the server's start: the store is made from the release again."""
    store_dir = tmp_path / "store"
    release_id = embedded.prepare_store(release_dir, store_dir, B)
    marker = store_dir / embedded.MARKER
    marker.write_bytes(said.encode("utf-8", "surrogateescape"))
    assert embedded.prepare_store(release_dir, store_dir, B) == release_id
    assert json.loads(marker.read_text(encoding="utf-8"))["release"] == release_id


def test_the_crc_of_pieces_combines_as_zlib_computes_the_whole():
    data = bytes(range(256)) * 1000
    for cut in (0, 1, 4095, 100_000, len(data)):
        head, tail = data[:cut], data[cut:]
        assert dump_pieces.crc32_combine(zlib.crc32(head), zlib.crc32(tail), len(tail)) \
            == zlib.crc32(data)


def _load_all(release_dir, tmp_path, manifest=None, pieces=3):
    store = ox.Store(str(tmp_path / "store"))
    loader.bulk_load_parallel(store, release_dir, manifest or release.read_manifest(
        release_dir), pieces)
    return loaded_triples(store)


def test_a_second_gzip_stream_appended_is_refused(blocked_release, tmp_path):
    """gzip allows several members; the build writes one: one added after it (its manifest
    updated to match) is refused rather than loaded by some readers and not others."""
    packed = blocked_release / release.DUMP_GZ
    packed.write_bytes(packed.read_bytes() + gzip.compress(b"<urn:a> <urn:b> <urn:c> .\n"))
    with pytest.raises(loader.LoadError, match="not its 8-byte trailer"):
        _load_all(blocked_release, tmp_path)


def test_a_content_that_does_not_match_the_gzip_crc_is_refused(blocked_release, tmp_path):
    packed = blocked_release / release.DUMP_GZ
    data = bytearray(packed.read_bytes())
    data[-8] ^= 0x01  # the trailer's CRC-32: the content no longer matches it
    packed.write_bytes(bytes(data))
    with pytest.raises(loader.LoadError, match="does not match its gzip trailer"):
        _load_all(blocked_release, tmp_path)


def test_flush_points_that_skip_the_first_block_load_nothing_less(blocked_release, tmp_path):
    """A manifest whose points start after the first block (offsets shifted to match) would
    have the pieces skip it: the points must start after the header, else the whole stream is
    read through gzip."""
    manifest = release.read_manifest(blocked_release)
    entry = manifest["files"][release.DUMP_GZ]
    first = entry["blocks"][1][1]
    entry["blocks"] = [[c, d - first] for c, d in entry["blocks"][1:]]
    entry["decoded"]["bytes"] -= first
    assert [p.whole for p in dump_pieces.pieces(blocked_release, manifest, 3)] == [True]
    assert _load_all(blocked_release, tmp_path, manifest) == triples_of(dump_bytes(blocked_release))


def test_a_stream_whose_last_read_ends_inside_its_trailer_loads(blocked_release, tmp_path,
                                                                monkeypatch):
    """The loader reads again after the end: the trailer, half in the inflater's leftover and
    half still in the file, is taken once, not again (8 bytes, then 4)."""
    manifest = release.read_manifest(blocked_release)
    size = (blocked_release / release.DUMP_GZ).stat().st_size
    last = manifest["files"][release.DUMP_GZ]["blocks"][-1][0]
    monkeypatch.setattr(dump_pieces.Slice, "READ_BYTES", size - last - 4)
    assert _load_all(blocked_release, tmp_path, manifest, 1) == \
        triples_of(dump_bytes(blocked_release))


def test_a_flush_point_that_is_not_where_the_manifest_says_is_refused(blocked_release,
                                                                      tmp_path):
    """Every point a piece passes is checked, not only those it was cut at: a Range on the
    plain dump starts from them."""
    manifest = release.read_manifest(blocked_release)
    blocks = manifest["files"][release.DUMP_GZ]["blocks"]
    blocks[40][1] += 50
    with pytest.raises(loader.LoadError, match="is not where its manifest says"):
        _load_all(blocked_release, tmp_path, manifest, 1)


def test_a_piece_that_inflates_to_more_than_the_manifest_says_stops(blocked_release,
                                                                    tmp_path):
    manifest = release.read_manifest(blocked_release)
    manifest["files"][release.DUMP_GZ]["decoded"]["bytes"] -= 100
    with pytest.raises(loader.LoadError, match="inflates to more than"):
        _load_all(blocked_release, tmp_path, manifest, 2)


def test_an_unlisted_plain_dump_beside_the_gzip_is_never_read(release_dir, tmp_path):
    """`gunzip -k dataset.nt.gz` in a release, then the plain copy edited or cut: the store,
    Memento and every command still read the gzip the manifest lists."""
    copy = tmp_path / "release"
    shutil.copytree(release_dir, copy)
    whole = dump_bytes(copy)
    (copy / release.DUMP).write_bytes(b"".join(whole.splitlines(True)[:1000]))
    assert release.dump_file(copy) == copy / release.DUMP_GZ
    assert _load_all(copy, tmp_path) == triples_of(whole)


def test_a_file_of_another_size_is_refused_before_any_load(release_dir, tmp_path):
    """A file swapped for another (a bigger gzip, say) is refused at once, from its size."""
    copy = tmp_path / "release"
    shutil.copytree(release_dir, copy)
    packed = copy / release.DUMP_GZ
    packed.write_bytes(gzip.compress(b"<urn:a> <urn:b> <urn:c> .\n" * 100_000))
    with pytest.raises(embedded.ReleaseError, match=r"damaged.*dataset.nt.gz: \d+ bytes, "
                                                    r"manifest says"):
        embedded.prepare_store(copy, tmp_path / "store", B)
    assert not (tmp_path / "store").exists()


def test_the_decompressed_dump_is_read_from_any_byte_through_its_flush_points(blocked_release):
    """What a Range on /dumps/dataset.nt reads: from the nearest flush point before it."""
    content = dump_bytes(blocked_release)
    packed = blocked_release / release.DUMP_GZ
    entry = release.read_manifest(blocked_release)["files"][release.DUMP_GZ]
    stream = dump_pieces.Inflated(packed, dump_pieces.flush_points(entry, packed))
    assert stream.read() == content and stream.tell() == len(content)
    for offset in (0, 1, 4095, 4096, len(content) // 2, len(content) - 1, len(content) + 5):
        assert stream.seek(offset) == min(offset, len(content))
        assert stream.read(5000) == content[offset:offset + 5000], offset
    assert stream.seek(-10, 2) == len(content) - 10 and stream.read() == content[-10:]


def test_a_range_of_the_plain_dump_is_served_from_its_flush_points(blocked_release, tmp_path):
    content = dump_bytes(blocked_release)
    with live_server(blocked_release, tmp_path / "store") as root:
        for start in (len(content) // 3, len(content) - 100):
            part = requests.get(f"{root}/dumps/dataset.nt", timeout=30, headers={
                "Accept-Encoding": "identity", "Range": f"bytes={start}-{start + 99}"})
            assert part.status_code == 206 and part.content == content[start:start + 100]
            assert part.headers["Content-Range"] == f"bytes {start}-{start + 99}/{len(content)}"


@pytest.mark.parametrize("damage", [appended, garbled])
def test_a_damaged_release_leaves_the_store_it_would_replace(damage, release_dir, tmp_path):
    """Checked while it loads: whether the damaged file still loads (then is refused) or not
    (the load fails), the refusal names the damage and the old store stays."""
    copy = tmp_path / "release"
    shutil.copytree(release_dir, copy)
    store_dir = tmp_path / "store"
    embedded.prepare_store(release_dir, store_dir, B)
    before = sorted(p.name for p in store_dir.iterdir())
    marker = (store_dir / embedded.MARKER).read_text(encoding="utf-8")
    (store_dir / embedded.MARKER).write_text(marker.replace('"compacted": true', '"compacted": false'),
                                             encoding="utf-8")  # so that it is loaded again
    packed = copy / release.DUMP_GZ
    packed.write_bytes(damage(packed.read_bytes()))
    with pytest.raises(embedded.ReleaseError, match="damaged.*dataset.nt.gz"):
        embedded.prepare_store(copy, store_dir, B)
    assert sorted(p.name for p in store_dir.iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".store.lock", "release", "store"]


def _held(store_dir):
    """What shows the store was not loaded again: the marker's bytes and the folder's inode."""
    return (store_dir / embedded.MARKER).read_bytes(), store_dir.stat().st_ino


def test_build_store_makes_the_store_serve_opens_as_it_is(seed_path, tmp_path):
    run = senacs_kg("build", str(seed_path), "--out", str(tmp_path / "release"),
                    "--store", str(tmp_path / "store"))
    assert run.returncode == 0, run.stderr
    assert "store ready in" in run.stderr and f"--store {tmp_path / 'store'}" in run.stderr
    held = _held(tmp_path / "store")
    with live_server(tmp_path / "release", tmp_path / "store") as root:
        answer = requests.get(root + "/sparql", timeout=30, params={
            "query": "SELECT (COUNT(*) AS ?n) WHERE { ?a a <https://w3id.org/senacs-kg/def#Action> }"},
            headers={"Accept": "application/sparql-results+json"})
        assert answer.json()["results"]["bindings"][0]["n"]["value"] == "25"
    assert _held(tmp_path / "store") == held


def test_build_store_in_a_series_makes_the_store_of_the_release(seed_path, tmp_path):
    for release_id in ("2025", "2026"):
        run = senacs_kg("build", str(seed_path), "--series", str(tmp_path / "series"),
                        "--release-id", release_id, "--store", str(tmp_path / "stores"))
        assert run.returncode == 0, run.stderr
        assert f"--store {tmp_path / 'stores'})" in run.stderr
    marker = json.loads((tmp_path / "stores" / "2026" / embedded.MARKER).read_text())
    assert marker["changes"] == ["2026"] and marker["compacted"] is True  # with its changeset
    assert sorted(p.name for p in (tmp_path / "stores").iterdir() if p.is_dir()) \
        == ["2025", "2026"]


def test_a_folder_that_is_no_store_is_refused_untouched(release_dir, tmp_path):
    """`serve --store ~/Documents` by mistake: the store would take the folder's place."""
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "thesis.txt").write_text("three years of work", encoding="utf-8")
    with pytest.raises(embedded.ReleaseError, match="not a store of this server"):
        embedded.prepare_store(release_dir, folder, B)
    assert [p.name for p in folder.iterdir()] == ["thesis.txt"]
    assert (folder / "thesis.txt").read_text(encoding="utf-8") == "three years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".documents.lock", "documents"]
    empty = tmp_path / "empty"
    empty.mkdir()
    embedded.prepare_store(release_dir, empty, B)  # an empty folder becomes the store
    assert (empty / embedded.MARKER).is_file()


def test_a_store_folder_that_cannot_be_made_is_one_line(seed_path, tmp_path):
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    run = senacs_kg("build", str(seed_path), "--out", str(tmp_path / "release"),
                    "--store", str(tmp_path / "a-file" / "store"))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "the store was not loaded" in run.stderr and "cannot be made there" in run.stderr
    served = senacs_kg("serve", "--release", str(tmp_path / "release"), "--store",
                       str(tmp_path / "a-file"), "--port", "0")
    assert served.returncode == 2 and "not a store of this server" in served.stderr
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == ""
