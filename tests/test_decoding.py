"""What the reader says about a file it cannot read as text: where, why, and what to pass."""

from __future__ import annotations

import random
import re
import struct
import zlib

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
    # the bytes looked at start inside a character: still recognised as UTF-8
    accents = ("Actions\n" + "é" * 3000 + "\n").encode() + b"\xc3"
    assert accents[len(accents) - 1 - 4096] == 0xA9
    path.write_bytes(accents)
    assert problems(path)[-1].endswith("the file ends inside a character: it was cut off")


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


def _png() -> bytes:
    """A real 1×1 PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


def test_an_image_is_not_text_whatever_the_encoding_named(tmp_path):
    """A PNG's first byte (0x89) is not UTF-8 and its NULs looked like UTF-16: it was given
    an encoding to try. It is named for what it is."""
    path = tmp_path / "photo.png"
    path.write_bytes(_png())
    expected = [f"{path}:1: not a text file: it starts like a PNG image; an export is plain "
                "text (UTF-8)"]
    assert problems(path) == expected
    assert problems(path, "utf-16") == expected
    assert _read(ExportFile(path, block_size=1)) == expected  # a signature across blocks


def test_random_bytes_are_not_text(tmp_path):
    path = tmp_path / "noise.bin"
    path.write_bytes(random.Random(19).randbytes(3000))
    [problem] = problems(path)
    assert re.fullmatch(rf"{re.escape(str(path))}:\d+: not a text file: \d+ of the \d+ bytes "
                        r"around byte offset \d+ are control bytes \(NUL, ESC…\); an export is "
                        r"plain text \(UTF-8\)", problem), problem


def test_a_file_that_decodes_is_text_whatever_it_holds(seed_text, tmp_path):
    """Control characters in valid UTF-8 are read as they are: the reader loses nothing of a
    text, and only a file that does not decode is judged."""
    path = tmp_path / "controls.txt"
    path.write_text("\x00\x1b" * 500 + "\n" + seed_text, encoding="utf-8")
    export = ExportFile(path)
    assert len(list(export.records())) == 25
    assert export.preamble == ["\x00\x1b" * 500, seed_text.split("\n")[0]]
    assert not any("not a text file" in str(p) for p in export.problems)
