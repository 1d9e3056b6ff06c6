"""What the reader says about a file it cannot read as text: where, why, and what to pass."""

from __future__ import annotations

from mapping.reader import ExportFile


def problems(path, encoding=None) -> list[str]:
    export = ExportFile(path, encoding)
    records = list(export.records())
    return [str(p) for r in records for p in r.problems] + [str(p) for p in export.problems]


def test_utf16_named_without_a_bom_says_the_byte_order_to_pass(seed_text, tmp_path):
    """Python's UTF-16 decoder refuses a file with no byte-order mark with a bare UnicodeError
    (not a UnicodeDecodeError): it is still a problem of the file, with the fix."""
    little, big = tmp_path / "le.txt", tmp_path / "be.txt"
    little.write_bytes(seed_text.encode("utf-16-le"))
    big.write_bytes(seed_text.encode("utf-16-be"))
    assert problems(little, "utf-16") == [
        f"{little}:1: utf-16 needs a byte-order mark and the file does not start with one; the "
        "file looks like UTF-16 (little-endian, no byte-order mark): convert it to UTF-8 or pass "
        "--encoding utf-16-le"]
    assert problems(big, "utf-16")[0].endswith("pass --encoding utf-16-be")
    assert len(list(ExportFile(little, "utf-16-le").records())) == 25


def test_utf16_without_a_bom_read_as_utf8_is_named_as_such(seed_text, tmp_path):
    """ASCII in UTF-16 is valid UTF-8 (with NULs) up to the first accent: the hint names the
    byte order, not Latin-1."""
    path = tmp_path / "le.txt"
    path.write_bytes(seed_text.encode("utf-16-le"))
    [problem] = problems(path)
    assert problem.endswith("the file looks like UTF-16 (little-endian, no byte-order mark): "
                            "convert it to UTF-8 or pass --encoding utf-16-le"), problem


def test_a_utf8_file_read_with_a_wrong_encoding_is_told_to_drop_it(seed_text, tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text(seed_text, encoding="utf-8")
    assert problems(path, "utf-16") == [
        f"{path}:1: utf-16 needs a byte-order mark and the file does not start with one; "
        "the file looks like UTF-8: drop --encoding"]
    offset = seed_text.encode("utf-8").index("é".encode())
    line = seed_text.encode("utf-8")[:offset].count(b"\n") + 1
    assert problems(path, "ascii") == [
        f"{path}:{line}: not valid ascii: byte 0xC3 at byte offset {offset}; the file looks like "
        "UTF-8: drop --encoding"]


def test_a_file_cut_inside_its_last_character_is_an_input_error(seed_text, tmp_path):
    """At the end of the file the decoder holds the cut character's bytes and the last block
    is empty: the problem names them, it is not an internal error."""
    data = seed_text.encode("utf-8")
    cut = data.rindex("é".encode()) + 1  # keep the first of é's two bytes
    path = tmp_path / "cut.txt"
    path.write_bytes(data[:cut])
    line = data[:cut].count(b"\n") + 1
    assert problems(path)[-1] == (f"{path}:{line}: not valid UTF-8: byte 0xC3 at byte offset "
                                  f"{cut - 1}; the file ends inside a character: it was cut off")


def test_a_bad_byte_is_located_whatever_the_block_boundaries(seed_text, tmp_path):
    """A character cut by a block's end is held back by the decoder: the bad byte's offset
    and value must count those held bytes, for every block size."""
    path = tmp_path / "latin.txt"
    path.write_bytes(seed_text.encode("cp1252"))
    whole = _read(ExportFile(path))
    assert "byte 0xE9 at byte offset 82" in whole[0]
    for size in range(1, 9):
        export = ExportFile(path, block_size=size)
        assert _read(export) == whole, size


def _read(export: ExportFile) -> list[str]:
    list(export.records())
    return [str(p) for p in export.problems]
