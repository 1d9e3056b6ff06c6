"""Turn an export file into normalised text blocks: UTF-8, no BOM, LF line endings.

Exports come from browsers and spreadsheets: with or without a BOM, with LF or
CRLF. Anything that is not UTF-8 is refused with the byte offset and a guess
at the real encoding, unless the user names the encoding: guessing silently
would turn "é" into "Ã©" in the published graph. A file that does not decode
and is no text at all (an image, an archive, control bytes) is refused as such,
not given an encoding to try; a file that decodes is text, whatever it holds.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

# 64 KiB: big enough that per-block work is negligible, small enough that the
# lines split out of a block are still in the CPU cache when they are read
# (4 MiB blocks made splitting twice as slow).
BLOCK_SIZE = 1 << 16

_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32 (little-endian)"),
    (codecs.BOM_UTF32_BE, "UTF-32 (big-endian)"),
    (codecs.BOM_UTF16_LE, "UTF-16 (little-endian)"),
    (codecs.BOM_UTF16_BE, "UTF-16 (big-endian)"),
)


class EncodingRefused(Exception):
    """The file is not in the expected encoding; the message says where and what it looks like."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class DecodeInfo:
    """What normalisation did to the file, for reports."""

    encoding: str = "utf-8"
    had_bom: bool = False
    crlf_lines: int = 0


class Guess(NamedTuple):
    """What bytes look like, and the ``--encoding`` that reads them (None: drop the option)."""

    name: str
    option: str | None


def guess_encoding(sample: bytes) -> Guess:
    """Name the likely encoding of bytes that did not decode as expected."""
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return Guess(name, "utf-16" if "16" in name else "utf-32")
    if _looks_utf16(sample):
        # ASCII in UTF-16 is one NUL per character, on the high byte's side
        odd = sample[1::2].count(b"\x00") >= sample[0::2].count(b"\x00")
        return Guess(f"UTF-16 ({'little' if odd else 'big'}-endian, no byte-order mark)",
                     "utf-16-le" if odd else "utf-16-be")
    if _is_utf8(sample):
        return Guess("UTF-8", None)
    try:
        sample.decode("cp1252")
    except UnicodeDecodeError:
        return Guess("ISO-8859-1 (Latin-1)", "latin-1")
    return Guess("Windows-1252 (Latin-1 family)", "cp1252")


def _is_utf8(sample: bytes) -> bool:
    """Whether bytes are UTF-8, a character cut off at either end of the sample allowed."""
    cut = 0
    while cut < 3 and cut < len(sample) and 0x80 <= sample[cut] < 0xC0:  # a character's tail
        cut += 1
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample[cut:], final=False)
    except UnicodeDecodeError:
        return False
    return True


def _looks_utf16(sample: bytes) -> bool:
    """UTF-16 with no byte-order mark: Latin text has a NUL on one side of nearly every
    character and almost none on the other."""
    high = max(sample[0::2].count(b"\x00"), sample[1::2].count(b"\x00"))
    low = min(sample[0::2].count(b"\x00"), sample[1::2].count(b"\x00"))
    return high * 4 > len(sample) and low * 64 <= len(sample)


# How files that are no text start: a file that does not decode is named by them
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (.zip, or a spreadsheet or document: .xlsx, .ods, .docx…)"),
    (b"\x1f\x8b", "a gzip file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Office 97-2003 document (.xls, .doc)"),
)
# C0 controls but tab, LF, VT, FF and CR, and DEL: text holds none of them
_CONTROLS = bytes(range(0x00, 0x09)) + bytes(range(0x0E, 0x20)) + b"\x7f"


_TEXT = "an export is plain text (UTF-8)"


def _not_text(head: bytes, sample: bytes, offset: int) -> str | None:
    """Why a file that did not decode is no text at all (None: it may be text in another
    encoding). ``head``: the file's first bytes; ``sample``: the bytes around ``offset``."""
    for magic, kind in _SIGNATURES:
        if head.startswith(magic):
            return f"it starts like {kind}"
    controls = _controls(sample)
    if controls:
        return (f"{controls} of the {len(sample)} bytes around byte offset {offset} are "
                "control bytes (NUL, ESC…)")
    return None


def _controls(sample: bytes) -> int:
    """The number of control bytes in the sample when they show it is not text, else 0."""
    if _looks_utf16(sample):
        return 0
    controls = len(sample) - len(sample.translate(None, _CONTROLS))
    return controls if controls * 32 > len(sample) else 0  # up to 3 %: read as text


def _advice(guess: Guess) -> str:
    """What to do about a file that looks like ``guess``."""
    if guess.option is None:
        return f"the file looks like {guess.name}: drop --encoding"
    return f"the file looks like {guess.name}: convert it to UTF-8 or pass --encoding {guess.option}"


def _bad_offset(err: UnicodeError, block: bytes, offset: int) -> int:
    """The file offset of the byte the decoder refused (0 for a missing byte-order mark).

    The decoder holds back the bytes of a character cut by a block's end, and its error
    counts from them; at the end of the file they are all it has."""
    if not isinstance(err, UnicodeDecodeError):
        return 0
    return offset - (len(err.object) - len(block)) + err.start


def _refusal(name: str, err: UnicodeError, handle: BinaryIO, bad: int) -> str:
    """The one-line message for the file the decoder ``name`` refused at offset ``bad``,
    judged on its first bytes and the bytes around ``bad`` (read again: the error path)."""
    handle.seek(0)
    head = handle.read(16)
    handle.seek(max(0, bad - 4096))
    sample = handle.read(8192)
    binary = _not_text(head, sample, bad)
    if binary:
        return f"not a text file: {binary}; {_TEXT}"
    if not isinstance(err, UnicodeDecodeError):  # utf-16/utf-32 with no byte-order mark
        return (f"{name} needs a byte-order mark and the file does not start with one; "
                + _advice(guess_encoding(sample)))
    shown = "UTF-8" if name == "utf-8" else name
    where = f"not valid {shown}: byte 0x{sample[bad - max(0, bad - 4096)]:02X} at byte offset {bad}"
    guess = guess_encoding(sample)
    if guess.option is None and name == "utf-8":  # valid up to a character cut short
        return f"{where}; the file ends inside a character: it was cut off"
    return f"{where}; {_advice(guess)}"


def _refuse_bom(block: bytes) -> None:
    """Refuse a UTF-16 or UTF-32 file by its byte-order mark, before reading it as UTF-8."""
    for bom, bom_name in _BOMS:
        if block.startswith(bom):
            raise EncodingRefused(1, (
                f"file is {bom_name}, not UTF-8 (byte-order mark at byte offset 0); "
                f"convert it to UTF-8 or pass --encoding {guess_encoding(bom).option}"))


def _line_at(handle: BinaryIO, offset: int) -> int:
    """Line number of a byte offset (read again from the start: only on the error path)."""
    handle.seek(0)
    lines, remaining = 1, offset
    while remaining > 0:
        chunk = handle.read(min(BLOCK_SIZE, remaining))
        if not chunk:
            break
        lines += chunk.count(b"\n")
        remaining -= len(chunk)
    return lines


def iter_text(handle: BinaryIO, encoding: str | None, info: DecodeInfo,
              block_size: int = BLOCK_SIZE) -> Iterator[str]:
    """Yield the file's text in blocks, normalised; raise EncodingRefused on bad bytes.

    A CR at the end of a block is held back so a CRLF split across two blocks is
    still seen as one line ending.
    """
    name = encoding or "utf-8"
    info.encoding = name
    decoder = codecs.getincrementaldecoder(name)(errors="strict")
    offset = 0
    pending_cr = ""
    first = True
    while True:
        block = handle.read(block_size)
        final = not block
        if first and encoding is None:
            first = False
            _refuse_bom(block)
            if block.startswith(codecs.BOM_UTF8):
                info.had_bom = True
                block = block[len(codecs.BOM_UTF8):]
                offset += len(codecs.BOM_UTF8)
        try:
            text = decoder.decode(block, final=final)
        except UnicodeError as err:  # UnicodeDecodeError, or utf-16's "no BOM"
            bad = _bad_offset(err, block, offset)
            raise EncodingRefused(_line_at(handle, bad), _refusal(name, err, handle, bad)) \
                from None
        offset += len(block)
        if first:
            first = False
            if text.startswith("\ufeff"):  # BOM of an explicitly named encoding
                info.had_bom = True
                text = text[1:]
        has_cr = bool(pending_cr) or b"\r" in block  # memchr on bytes: cheap
        if pending_cr:
            text, pending_cr = pending_cr + text, ""
        if has_cr:
            if not final and text.endswith("\r"):
                pending_cr, text = "\r", text[:-1]
            info.crlf_lines += text.count("\r\n")
            text = text.replace("\r\n", "\n")
        if text:
            yield text
        if final:
            return
