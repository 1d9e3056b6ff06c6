"""Turn an export file into normalised text blocks: UTF-8, no BOM, LF line endings.

Exports come from browsers and spreadsheets: with or without a BOM, with LF or
CRLF. Anything that is not UTF-8 is refused with the byte offset and a guess
at the real encoding, unless the user names the encoding: guessing silently
would turn "é" into "Ã©" in the published graph.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

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


def guess_encoding(sample: bytes) -> str:
    """Name the likely encoding of bytes that are not valid UTF-8."""
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    if sample.count(b"\x00") > len(sample) // 8:
        return "UTF-16 (no byte-order mark)"
    try:
        sample.decode("cp1252")
    except UnicodeDecodeError:
        return "ISO-8859-1 (Latin-1)"
    return "Windows-1252 (Latin-1 family)"


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
            for bom, bom_name in _BOMS:
                if block.startswith(bom):
                    raise EncodingRefused(1, (
                        f"file is {bom_name}, not UTF-8 (byte-order mark at byte offset 0); "
                        f"convert it to UTF-8 or pass --encoding utf-16"))
            if block.startswith(codecs.BOM_UTF8):
                info.had_bom = True
                block = block[len(codecs.BOM_UTF8):]
                offset += len(codecs.BOM_UTF8)
        try:
            text = decoder.decode(block, final=final)
        except UnicodeDecodeError as err:
            bad = offset + err.start
            line = _line_at(handle, bad)
            guess = guess_encoding(block[max(0, err.start - 4096): err.start + 4096])
            raise EncodingRefused(line, (
                f"not valid UTF-8: byte 0x{block[err.start]:02X} at byte offset {bad}; "
                f"the file looks like {guess}: convert it to UTF-8 or pass "
                f"--encoding {'cp1252' if 'Windows' in guess else 'latin-1'}")) from None
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
